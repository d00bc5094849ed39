"""The outbox's sender puts every key where Kafka's default partitioner does."""

from __future__ import annotations

import random
import uuid

from aiokafka.partitioner import DefaultPartitioner

from servicekit.kafka import partition_of


def test_each_key_goes_to_the_partition_the_default_partitioner_picks() -> None:
    rng = random.Random(7)
    default = DefaultPartitioner()
    keys = [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(500)]
    keys += [f"acct-{n}".encode() for n in range(100)] + [b"", "näïve ✓".encode()]
    for count in (1, 3, 6, 12, 7):
        partitions = list(range(count))
        for key in keys + keys:  # the second time from the remembered hashes
            assert partition_of(key, partitions) == default(key, partitions, partitions)
