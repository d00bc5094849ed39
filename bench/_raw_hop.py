"""One hop of the raw pipeline that bench/end_to_end.py measures beside ours: what the two services do,
with nothing but aiokafka, json and SQLAlchemy core executemany.

    python bench/_raw_hop.py CONFIG.json

CONFIG names the database URL, the topic and the partitions' start and end offsets to read (or the
count of records to read from the beginning), and optionally a topic to forward each record to. Per
batch: `getmany`, `json.loads`, one executemany INSERT in one transaction, the forwarded records sent
with an idempotent producer (acks=all) and awaited, the offsets committed. The report (first batch
start, last batch end, records) is written next to CONFIG as `<CONFIG>.out`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert
from sqlalchemy.ext.asyncio import create_async_engine


async def run(config: dict[str, Any]) -> dict[str, Any]:
    metadata = MetaData()
    table = Table(
        "raw_hop",
        metadata,
        Column("entry_id", String(36), primary_key=True),
        Column("account_id", String(100), nullable=False),
        Column("started_at", String(40), nullable=False),
        Column("minutes", Integer, nullable=False),
        Column("document", Text, nullable=False),
    )
    engine = create_async_engine(config["database_url"])
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config["bootstrap"],
        group_id=f"bench.raw-hop.{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    producer = None
    if config.get("forward_to"):
        producer = AIOKafkaProducer(
            bootstrap_servers=config["bootstrap"], enable_idempotence=True, acks="all", linger_ms=5
        )
        await producer.start()
    await consumer.start()
    first = last = 0.0
    seen = 0
    try:
        topic = config["topic"]
        if "starts" in config:
            starts = {TopicPartition(topic, int(p)): o for p, o in config["starts"].items()}
            ends = {TopicPartition(topic, int(p)): o for p, o in config["ends"].items()}
            wanted = sum(ends[p] - starts[p] for p in starts)
            consumer.assign(list(starts))
            for partition, offset in starts.items():
                consumer.seek(partition, offset)
        else:
            wanted = int(config["count"])
            partitions = consumer.partitions_for_topic(topic) or set()
            while not partitions:
                await consumer._client.force_metadata_update()  # noqa: SLF001 - a new topic
                partitions = consumer.partitions_for_topic(topic) or set()
            consumer.assign([TopicPartition(topic, p) for p in partitions])
            ends = {}
        Path(config["ready"]).touch()
        deadline = time.monotonic() + float(config.get("time_limit", 300))
        while seen < wanted and time.monotonic() < deadline:
            got = await consumer.getmany(timeout_ms=200, max_records=2000)
            records = [r for tp, rs in got.items() for r in rs if not ends or r.offset < ends[tp]]
            if not records:
                continue
            started = time.time()
            first = first or started
            documents = [json.loads(record.value) for record in records]
            rows = []
            for document in documents:
                data = document["data"]
                entry = data.get("entry", data)
                rows.append(
                    {
                        "entry_id": entry["entry_id"],
                        "account_id": entry["account_id"],
                        "started_at": entry["started_at"],
                        "minutes": entry.get("minutes") or entry.get("duration_minutes") or 0,
                        "document": json.dumps(entry),
                    }
                )
            async with engine.begin() as connection:
                await connection.execute(insert(table), rows)
            if producer is not None:
                sending = [
                    await producer.send(
                        config["forward_to"],
                        json.dumps({"type": "raw.logged", "data": {"entry": row}}).encode(),
                        key=record.key,
                    )
                    for row, record in zip(rows, records, strict=True)
                ]
                await asyncio.gather(*sending)
            await consumer.commit()
            seen += len(records)
            last = time.time()
    finally:
        await consumer.stop()
        if producer is not None:
            await producer.stop()
        await engine.dispose()
    return {"first": first, "last": last, "records": seen}


if __name__ == "__main__":
    path = Path(sys.argv[1])
    result = asyncio.run(run(json.loads(path.read_text())))
    Path(str(path) + ".out").write_text(json.dumps(result))
