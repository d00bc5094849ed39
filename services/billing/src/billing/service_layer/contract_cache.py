"""Billing's contract copies kept between consumer batches, by contract id and version.

Every batch of time entries needs its contracts' terms and cycles; reading and rebuilding them per
batch costs more than the batch's own writes. A copy is reused only while the stored version is the
one cached, which is checked with one small query per batch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from billing.domain.contract import BillingContract
from billing.service_layer.unit_of_work import BillingUnitOfWork


class ContractCache:
    """Least recently used copies, at most `size` of them."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._copies: OrderedDict[UUID, BillingContract] = OrderedDict()

    async def many(self, uow: BillingUnitOfWork, contract_ids: Iterable[UUID]) -> dict[UUID, BillingContract]:
        versions = await uow.contracts.versions(contract_ids)
        stale = [
            contract_id
            for contract_id, version in versions.items()
            if (cached := self._copies.get(contract_id)) is None or cached.version != version
        ]
        self._copies.update(await uow.contracts.many(stale))
        found: dict[UUID, BillingContract] = {}
        for contract_id in versions:
            if contract_id in self._copies:
                self._copies.move_to_end(contract_id)
                found[contract_id] = self._copies[contract_id]
        while len(self._copies) > self._size:
            self._copies.popitem(last=False)
        return found
