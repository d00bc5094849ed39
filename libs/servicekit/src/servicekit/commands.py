"""Commands from Kafka: each applied once, and answered by an event whether it was carried out or not.

A command is applied in a unit of work of its own with its inbox record, so a redelivery changes
nothing twice and a rejected command undoes nothing of the others in its batch. One that breaks a
business rule (a `DomainError`) is answered by the service's rejection event, in the same unit of work
as its inbox record; it is not a dead letter, which is for messages that cannot be read at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from servicekit.consumers import Delivery
from servicekit.errors import DomainError
from servicekit.uow import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)

ApplyCommand = Callable[[U, Delivery], Awaitable[object]]
RejectCommand = Callable[[U, Delivery, DomainError], None]


async def apply_commands(
    units: Callable[[], U],
    deliveries: Sequence[Delivery],
    apply: ApplyCommand[U],
    reject: RejectCommand[U],
) -> None:
    for delivery in deliveries:
        async with units() as uow:
            if not await uow.unprocessed([delivery]):
                continue  # applied (or rejected) before: a redelivery
            try:
                async with uow.savepoint():
                    await apply(uow, delivery)
            except DomainError as error:
                reject(uow, delivery, error)
