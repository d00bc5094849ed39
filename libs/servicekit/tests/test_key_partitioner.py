"""The outbox producer's partitioner puts every key where Kafka's default partitioner does."""

from __future__ import annotations

import random
import uuid

from aiokafka.partitioner import DefaultPartitioner

from servicekit.kafka import KeyPartitioner


def test_each_key_goes_to_the_partition_the_default_partitioner_picks() -> None:
    rng = random.Random(7)
    ours, default = KeyPartitioner(), DefaultPartitioner()
    keys = [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(500)]
    keys += [f"acct-{n}".encode() for n in range(100)] + [b"", "näïve ✓".encode()]
    for partitions in (1, 3, 6, 12, 7):
        all_partitions = list(range(partitions))
        for key in keys + keys:  # the second time from the remembered hashes
            assert ours(key, all_partitions, all_partitions) == default(key, all_partitions, all_partitions)


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    assert KeyPartitioner()(None, [0, 1, 2, 3], [2]) == 2
