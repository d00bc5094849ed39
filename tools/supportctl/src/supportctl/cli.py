"""`supportctl`: run the stack, look at topics, lag and outboxes, replay dead letters, run and check
bills, and watch events go by. `supportctl --help` lists the commands; each has its own `--help`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts_schema import TOPICS
from servicekit.kafka import ensure_topics
from supportctl import broker, stack
from supportctl.events import render_event
from supportctl.settings import ROOT, SERVICES, Settings

T = TypeVar("T")

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
stack_app = typer.Typer(help="The dev stack on this machine: Kafka and the three services.")
topics_app = typer.Typer(help="Topics: create ours, describe any.")
dlq_app = typer.Typer(help="Dead letters of a topic (its .dlq twin): list, show, replay.")
bills_app = typer.Typer(help="Bill runs and reconciliation, through billing's REST API.")
events_app = typer.Typer(help="Events as they go by, readable.")
for sub, name in (
    (stack_app, "stack"),
    (topics_app, "topics"),
    (dlq_app, "dlq"),
    (bills_app, "bills"),
    (events_app, "events"),
):
    app.add_typer(sub, name=name, no_args_is_help=True)

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]supportctl:[/red] {message}")
    return typer.Exit(code)


@app.callback()
def main_options(
    ctx: typer.Context,
    bootstrap: Annotated[
        str | None,
        typer.Option(help="Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:9092)"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="bearer token for the REST APIs (env SUPPORTCTL_TOKEN)", show_default=False),
    ] = None,
) -> None:
    settings = Settings()
    if bootstrap:
        settings.bootstrap = bootstrap
    if token:
        settings.token = token
    ctx.obj = settings


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _client(settings: Settings) -> httpx.Client:
    return httpx.Client(headers=settings.headers(), timeout=30.0)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    )


# --- stack ---------------------------------------------------------------------------------------

VarDir = Annotated[Path, typer.Option(help="pid files, logs and SQLite databases")]
KafkaPort = Annotated[
    int | None, typer.Option(help="the broker's port (scripts/kafka.sh) (env KAFKA_PORT, default 9092)")
]


def _kafka_port(given: int | None) -> int:
    """The option, else KAFKA_PORT read when the command runs (not when the module is imported)."""
    return given if given is not None else int(os.environ.get("KAFKA_PORT", "9092"))


@stack_app.command("up")
def stack_up(
    ctx: typer.Context,
    var: VarDir = ROOT / "var",
    kafka_port: KafkaPort = None,
    demo: Annotated[bool, typer.Option(help="run scripts/demo.py once everything is ready")] = True,
    log_format: Annotated[str, typer.Option(help="console (readable) or json (env LOG_FORMAT)")] = "console",
) -> None:
    """Start Kafka and the three services (SQLite files under VAR), wait until each is ready."""
    settings = _settings(ctx)
    kafka_port = _kafka_port(kafka_port)
    started = datetime.now(UTC)
    result = stack.kafka_script("start", kafka_port)
    console.print(result.stdout.strip() or result.stderr.strip())
    if result.returncode != 0:
        raise _fail(f"Kafka did not start:\n{result.stderr}")
    bootstrap = f"127.0.0.1:{kafka_port}"
    jwks = stack.signing_keys(var / "dev-keys")
    for name in SERVICES:
        pid = stack.start_service(var, name, bootstrap=bootstrap, log_format=log_format, jwks=jwks)
        console.print(f"{name}: pid {pid}")
    try:
        for name in SERVICES:
            stack.wait_ready(var, name)
    except stack.StackError as error:
        raise _fail(str(error)) from None
    seconds = (datetime.now(UTC) - started).total_seconds()
    console.print(
        f"\n[green]The stack is up[/green] in {seconds:.0f} s. Kafka: {bootstrap}. Logs: {var / 'log'}/"
    )
    for name in SERVICES:
        url = settings.urls[name]
        console.print(f"  {name:<13} {url}   (OpenAPI docs: {url}/docs, metrics: {url}/metrics)")
    console.print(
        "supportctl signs its own admin token with the stack's key; another one:"
        " uv run python -m servicekit.dev_token --role admin"
    )
    console.print("Stop it with: supportctl stack down")
    if demo:
        console.print()
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        code = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "demo.py")], env=env, check=False
        ).returncode
        if code != 0:
            raise typer.Exit(code)


@stack_app.command("down")
def stack_down(
    var: VarDir = ROOT / "var",
    kafka_port: KafkaPort = None,
    kafka: Annotated[bool, typer.Option(help="stop the broker too")] = True,
) -> None:
    """Stop the services (SIGTERM, then SIGKILL after 15 s) and the broker."""
    kafka_port = _kafka_port(kafka_port)
    for name in SERVICES:
        if stack.stop_service(var, name):
            console.print(f"{name}: stopped")
    if kafka:
        result = stack.kafka_script("stop", kafka_port)
        console.print(result.stdout.strip() or result.stderr.strip())


@stack_app.command("status")
def stack_status(
    var: VarDir = ROOT / "var",
    kafka_port: KafkaPort = None,
) -> None:
    """What runs: each service's process and readiness, and the broker."""
    kafka_port = _kafka_port(kafka_port)
    table = Table("service", "pid", "process", "ready")
    for found in stack.status(var):
        ready = (
            "-"
            if found.ready is None
            else ", ".join(f"{k}={'ok' if v else 'NO'}" for k, v in found.ready.items())
        )
        table.add_row(
            found.name,
            str(found.pid or "-"),
            "[green]running[/green]" if found.running else "[red]stopped[/red]",
            ready,
        )
    console.print(table)
    kafka_up = stack.kafka_script("status", kafka_port).returncode == 0
    console.print(
        f"kafka 127.0.0.1:{kafka_port}: " + ("[green]up[/green]" if kafka_up else "[red]down[/red]")
    )


# --- topics --------------------------------------------------------------------------------------


@topics_app.command("create")
def topics_create(ctx: typer.Context) -> None:
    """Create every topic of the registry and its .dlq twin; existing ones are left as they are."""
    settings = _settings(ctx)
    created = _run(ensure_topics(settings.bootstrap, security=settings.kafka.security))
    console.print(f"{len(created)} created" + (": " + ", ".join(created) if created else ""))
    for topic in TOPICS:
        console.print(f"  {topic.name} ({topic.partitions} partitions) and {topic.dlq}")


@topics_app.command("describe")
def topics_describe(
    ctx: typer.Context,
    topics: Annotated[
        list[str] | None, typer.Argument(help="topic names; all but internal ones if none")
    ] = None,
) -> None:
    """Partitions and records held per topic."""
    settings = _settings(ctx)
    names = topics or _run(broker.list_topics(settings.kafka))
    try:
        sizes = _run(broker.describe_topics(settings.kafka, names))
    except LookupError as error:
        raise _fail(str(error)) from None
    table = Table("topic", "partitions", "records held", "end offset (sum)")
    for size in sizes:
        style = "yellow" if size.topic.endswith(broker.DLQ_SUFFIX) and size.messages else ""
        table.add_row(size.topic, str(size.partitions), str(size.messages), str(size.end_offset), style=style)
    console.print(table)


# --- lag and outbox ------------------------------------------------------------------------------


@app.command("lag")
def lag(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Option(help="only groups whose name starts with this")] = None,
) -> None:
    """Consumer lag per group and partition: what is on the partition past the group's commit."""
    settings = _settings(ctx)
    lags = _run(broker.consumer_lag(settings.kafka, group))
    if not lags:
        console.print("no consumer group has committed offsets" + (f" (prefix {group!r})" if group else ""))
        return
    table = Table("group", "topic", "partition", "committed", "end", "lag")
    totals: dict[str, int] = {}
    for found in lags:
        totals[found.group] = totals.get(found.group, 0) + found.lag
        style = "yellow" if found.lag else ""
        committed = "-" if found.committed is None else str(found.committed)
        table.add_row(
            found.group,
            found.topic,
            str(found.partition),
            committed,
            str(found.end),
            str(found.lag),
            style=style,
        )
    console.print(table)
    for name, total in totals.items():
        console.print(f"{name}: lag {total}")


@app.command("outbox")
def outbox(
    ctx: typer.Context,
    service: Annotated[
        list[str] | None, typer.Option(help="contracts, billing or timetracking; all if none")
    ] = None,
    release: Annotated[
        bool,
        typer.Option(help="first send the parked rows again (once what made Kafka refuse them is fixed)"),
    ] = False,
) -> None:
    """Outbox rows each service has not sent to Kafka yet, the age of the oldest, and the rows parked
    because Kafka would not take them (the service's log says why)."""
    settings = _settings(ctx)
    table = Table("service", "pending", "oldest pending", "age (s)", "parked")
    unreachable = False
    with _client(settings) as client:
        for name in service or SERVICES:
            if name not in settings.urls:
                raise _fail(f"unknown service {name!r}: one of {', '.join(SERVICES)}")
            try:
                if release:
                    released = client.post(f"{settings.urls[name]}/ops/outbox/release", json={})
                    released.raise_for_status()
                    console.print(f"{name}: {released.json()['released']} parked rows released")
                response = client.get(f"{settings.urls[name]}/ops/outbox")
                response.raise_for_status()
            except httpx.HTTPError as error:
                table.add_row(name, "[red]unreachable[/red]", str(error)[:60], "", "")
                unreachable = True
                continue
            found = response.json()
            style = "red" if found["parked"] else "yellow" if found["pending"] else ""
            table.add_row(
                name,
                str(found["pending"]),
                found["oldest_pending_at"] or "-",
                f"{found['oldest_pending_seconds']:.1f}",
                str(found["parked"]),
                style=style,
            )
    console.print(table)
    if unreachable:
        raise typer.Exit(1)


# --- dead letters --------------------------------------------------------------------------------

Reason = Annotated[str | None, typer.Option(help="only dead letters whose reason contains this text")]


def _message_type(value: bytes) -> str:
    try:
        document = json.loads(value)
    except ValueError:
        return "(not JSON)"
    return str(document.get("type", "?")) if isinstance(document, dict) else "(not an object)"


@dlq_app.command("list")
def dlq_list(ctx: typer.Context, topic: str, reason: Reason = None) -> None:
    """Dead letters of TOPIC, one per original position, oldest first."""
    settings = _settings(ctx)
    try:
        letters = _run(broker.dead_letters(settings.kafka, topic, reason=reason))
    except LookupError as error:
        raise _fail(str(error)) from None
    table = Table("dlq position", "original position", "type", "key", "consumers", "times", "reason")
    for letter in letters:
        original = letter.original_position
        table.add_row(
            f"{letter.partition}:{letter.offset}",
            f"{original[1]}:{original[2]}" if original else "-",
            _message_type(letter.value),
            (letter.key or b"").decode(errors="replace"),
            ", ".join(letter.consumers),
            str(1 + len(letter.also)),
            letter.reason,
        )
    console.print(table)
    console.print(
        f"{len(letters)} dead letters on {broker.dlq_topic_of(topic)}"
        + (f" matching {reason!r}" if reason else "")
    )


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context,
    topic: str,
    offset: Annotated[int, typer.Option(help="the dead letter's offset on the .dlq topic")],
    partition: Annotated[int, typer.Option(help="its partition on the .dlq topic")] = 0,
) -> None:
    """One dead letter: its headers, key and value (pretty when it is JSON)."""
    settings = _settings(ctx)
    try:
        letter = _run(broker.dead_letter_at(settings.kafka, topic, partition, offset))
    except LookupError as error:
        raise _fail(str(error)) from None
    at = datetime.fromtimestamp(letter.timestamp_ms / 1000, UTC).isoformat()
    console.print(f"[bold]{letter.position}[/bold]  {at}")
    for name, value in letter.headers.items():
        console.print(f"  [cyan]{name}[/cyan]: {value}")
    console.print(f"  [cyan]key[/cyan]: {(letter.key or b'').decode(errors='replace')}")
    try:
        console.print_json(letter.value.decode())
    except (ValueError, UnicodeDecodeError):
        console.print(repr(letter.value))


@dlq_app.command("replay")
def dlq_replay(
    ctx: typer.Context,
    topic: str,
    reason: Reason = None,
    offset: Annotated[
        list[int] | None, typer.Option(help="only the dead letters at these offsets of the .dlq topic")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="say what would be replayed, send nothing")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Send dead letters back to their original topic, once per original position, each marked with
    the header `dlq-replayed-from: <dlq topic>:<partition>:<offset>`."""
    settings = _settings(ctx)
    try:
        letters = _run(broker.dead_letters(settings.kafka, topic, reason=reason))
    except LookupError as error:
        raise _fail(str(error)) from None
    if offset:
        wanted = set(offset)
        letters = [letter for letter in letters if letter.offset in wanted]
    letters = [letter for letter in letters if letter.original_topic is not None]
    if not letters:
        console.print("nothing to replay")
        return
    targets = sorted({letter.original_topic or "" for letter in letters})
    console.print(f"{len(letters)} dead letters to replay to {', '.join(targets)}")
    if dry_run:
        for letter in letters:
            console.print(f"  would replay {letter.position}: {letter.reason}")
        return
    if not yes and not typer.confirm("Replay them?"):
        raise typer.Exit(1)
    with _progress() as progress:
        task = progress.add_task("replaying", total=len(letters))
        sent = _run(broker.replay(settings.kafka, letters, on_sent=lambda _letter: progress.advance(task)))
    console.print(f"replayed {sent} dead letters (header {broker.REPLAY_HEADER})")


# --- bills ---------------------------------------------------------------------------------------


def _instant(text: str) -> datetime:
    if text == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 instant or 'now'") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@bills_app.command("run")
def bills_run(
    ctx: typer.Context,
    due_before: Annotated[str, typer.Option(help="ISO 8601 instant (UTC unless it says) or 'now'")],
    batch: Annotated[int, typer.Option(min=1, max=200, help="contracts per request")] = 50,
) -> None:
    """Make the bills that fell due before an instant, as billing's scheduler does, batch by batch."""
    settings = _settings(ctx)
    body = {"due_before": _instant(due_before).isoformat(), "limit": batch}
    made: list[dict[str, Any]] = []
    url = f"{settings.urls['billing']}/bill-runs"
    with _client(settings) as client, _progress() as progress:
        task = progress.add_task("contracts billed", total=None)
        while True:
            response = client.post(url, json=body)
            if response.status_code != 200:
                raise _fail(f"POST {url}: {response.status_code} {response.text}")
            run = response.json()
            made += run["bills"]
            done = progress.tasks[0].completed + run["contracts_taken"]
            progress.update(task, completed=done, total=done + run["contracts_still_due"])
            if run["contracts_taken"] == 0 or run["contracts_still_due"] == 0:
                break
    table = Table("bill", "contract", "period", "status")
    for bill in made:
        table.add_row(bill["number"], bill["contract_id"], bill["period"], bill["status"])
    console.print(table)
    console.print(f"{len(made)} bills made")


@bills_app.command("reconcile")
def bills_reconcile(
    ctx: typer.Context,
    contract: Annotated[str, typer.Option(help="the contract id")],
    main_only: Annotated[bool, typer.Option(help="only main bills")] = False,
) -> None:
    """Recompute every bill of a contract from the raw time entries and compare; exit 1 on a difference."""
    settings = _settings(ctx)
    base = settings.urls["billing"]
    found: list[dict[str, Any]] = []
    with _client(settings) as client:
        offset = 0
        while True:
            params: dict[str, Any] = {"contract_id": contract, "limit": 500, "offset": offset}
            if main_only:
                params["main_only"] = "true"
            response = client.get(f"{base}/bills", params=params)
            if response.status_code != 200:
                raise _fail(f"GET {base}/bills: {response.status_code} {response.text}")
            page = response.json()
            found += page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
        results: list[tuple[dict[str, Any], dict[str, Any]]] = []
        with _progress() as progress:
            task = progress.add_task("reconciling", total=len(found))
            for bill in found:
                response = client.get(f"{base}/bills/{bill['bill_id']}/reconciliation")
                if response.status_code != 200:
                    raise _fail(
                        f"reconciliation of {bill['bill_number']}: {response.status_code} {response.text}"
                    )
                results.append((bill, response.json()))
                progress.advance(task)
    table = Table("bill", "period", "status", "main", "billed", "recomputed", "matches", "differences")
    mismatched = 0
    for bill, result in results:
        mismatched += not result["matches"]
        table.add_row(
            bill["bill_number"],
            bill["period"],
            bill["status"],
            "yes" if bill["is_main"] else "",
            f"{result['billed_total']['amount']} {result['billed_total']['currency']}",
            f"{result['recomputed_total']['amount']} {result['recomputed_total']['currency']}",
            "[green]yes[/green]" if result["matches"] else "[red]NO[/red]",
            "; ".join(result["regeneration_reasons"]) or str(len(result["differences"]) or ""),
        )
    console.print(table)
    console.print(f"{len(results)} bills reconciled, {mismatched} with differences")
    if mismatched:
        raise typer.Exit(1)


# --- events --------------------------------------------------------------------------------------


@events_app.command("tail")
def events_tail(
    ctx: typer.Context,
    topic: str,
    from_beginning: Annotated[bool, typer.Option(help="start with the records the topic holds")] = False,
    limit: Annotated[int | None, typer.Option(help="stop after this many records")] = None,
    idle: Annotated[float | None, typer.Option(help="stop after this many seconds without a record")] = None,
) -> None:
    """Print each record of TOPIC as a readable CloudEvent: type, key, subject, actor, then its data."""
    settings = _settings(ctx)

    async def follow() -> int:
        count = 0
        async for record in broker.tail(
            settings.kafka, topic, from_beginning=from_beginning, limit=limit, idle_seconds=idle
        ):
            console.print(render_event(record))
            count += 1
        return count

    try:
        _run(follow())
    except LookupError as error:
        raise _fail(str(error)) from None
    except KeyboardInterrupt:
        pass


def main() -> None:
    app()


if __name__ == "__main__":
    main()
