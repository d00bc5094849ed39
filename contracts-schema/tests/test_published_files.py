"""The committed JSON Schemas and AsyncAPI document, and the `contracts-schema` command that makes them."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from contracts_schema import contracts
from contracts_schema.cli import (
    ASYNCAPI_DOCUMENT,
    ENVELOPE_SCHEMA,
    PROJECT_DIR,
    SCHEMA_DIR,
    build_documents,
    generate,
    main,
    render,
    stale_files,
)
from contracts_schema.registry import MESSAGE_TYPES, TOPICS

DELETED = "contracts.contract.deleted"


def test_committed_files_are_what_the_models_generate() -> None:
    assert stale_files(PROJECT_DIR, build_documents()) == [], "run `uv run contracts-schema generate`"


def test_check_passes_on_the_committed_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert "up to date, no breaking changes" in capsys.readouterr().out


def test_one_schema_per_message_type_plus_envelope_and_asyncapi() -> None:
    expected = {f"{SCHEMA_DIR}/{message_type}.json" for message_type in MESSAGE_TYPES}
    expected |= {ENVELOPE_SCHEMA, ASYNCAPI_DOCUMENT}

    assert set(build_documents()) == expected


def test_generating_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    assert main(["generate", "--out", str(tmp_path)]) == 0
    first = {path: path.read_bytes() for path in tmp_path.rglob("*.json")}

    assert generate(tmp_path, build_documents()) == []
    assert {path: path.read_bytes() for path in tmp_path.rglob("*.json")} == first
    assert all(content.endswith(b"}\n") for content in first.values())


def test_rendering_sorts_keys() -> None:
    assert (
        render({"b": 1, "a": {"d": 2, "c": 3}}) == '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'
    )


def test_a_model_change_without_regenerating_is_stale(tmp_path: Path) -> None:
    generate(tmp_path, build_documents())

    class ContractDeleted(contracts.ContractDeleted):
        reason: str = ""

    changed = [
        replace(topic, messages={**topic.messages, DELETED: ContractDeleted})
        if DELETED in topic.messages
        else topic
        for topic in TOPICS
    ]

    assert stale_files(tmp_path, build_documents(changed)) == [
        f"{ASYNCAPI_DOCUMENT} differs",
        f"{SCHEMA_DIR}/{DELETED}.json differs",
    ]


def test_generate_removes_schemas_of_message_types_no_longer_registered(tmp_path: Path) -> None:
    generate(tmp_path, build_documents())
    leftover = tmp_path / SCHEMA_DIR / "billing.bill.voided.json"
    leftover.write_text("{}\n")

    assert stale_files(tmp_path, build_documents()) == [
        f"{SCHEMA_DIR}/billing.bill.voided.json is no longer generated"
    ]
    assert generate(tmp_path, build_documents()) == [f"{SCHEMA_DIR}/billing.bill.voided.json"]
    assert not leftover.exists()


def test_check_fails_and_says_so_when_files_are_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(tmp_path, build_documents())
    (tmp_path / ASYNCAPI_DOCUMENT).write_text("{}\n")
    (tmp_path / ENVELOPE_SCHEMA).unlink()

    assert main(["check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "stale; run `uv run contracts-schema generate`" in err
    assert f"{ASYNCAPI_DOCUMENT} differs" in err
    assert f"{ENVELOPE_SCHEMA} is missing" in err


def _committed_with_an_extra_property(directory: Path) -> None:
    """As if the committed schema of a message had a property the model no longer has."""
    path = directory / SCHEMA_DIR / f"{DELETED}.json"
    schema = json.loads(path.read_text())
    schema["properties"]["reason"] = {"type": "string"}
    path.write_text(render(schema))


def test_check_fails_listing_breaking_changes_against_the_committed_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(tmp_path, build_documents())
    _committed_with_an_extra_property(tmp_path)
    asyncapi = json.loads((tmp_path / ASYNCAPI_DOCUMENT).read_text())
    asyncapi["channels"]["contracts.contracts.v1"]["x-key"] = "account id"
    (tmp_path / ASYNCAPI_DOCUMENT).write_text(render(asyncapi))

    assert main(["check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "2 breaking change(s) against the committed schemas" in err
    assert f"  {DELETED} reason: property removed" in err
    assert "  topic contracts.contracts.v1: key changed from 'account id' to 'contract id'" in err


def test_check_reports_a_removed_message_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate(tmp_path, build_documents())
    shutil.copy(
        tmp_path / SCHEMA_DIR / f"{DELETED}.json", tmp_path / SCHEMA_DIR / "contracts.contract.voided.json"
    )

    assert main(["check", "--dir", str(tmp_path)]) == 1
    assert "  contracts.contract.voided: message type removed" in capsys.readouterr().err


def _git(directory: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=directory,
        check=True,
        capture_output=True,
    )


def test_check_against_a_git_revision_finds_breaking_changes_already_regenerated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "contracts-schema"
    _git(tmp_path, "init", "--quiet")
    generate(project, build_documents())
    _committed_with_an_extra_property(project)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "--quiet", "-m", "baseline")
    generate(project, build_documents())

    assert main(["check", "--dir", str(project)]) == 0
    assert main(["check", "--dir", str(project), "--against", "HEAD"]) == 1
    assert f"  {DELETED} reason: property removed" in capsys.readouterr().err


def test_check_against_an_unknown_revision_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _git(tmp_path, "init", "--quiet")
    generate(tmp_path, build_documents())

    assert main(["check", "--dir", str(tmp_path), "--against", "no-such-branch"]) == 2
    assert "cannot read the baseline" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["publish"], ["generate", "--bogus"], ["check", "--against"]])
def test_bad_arguments_exit_non_zero(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code != 0
    assert "usage: contracts-schema" in capsys.readouterr().err
