"""The README's operations recipes, run as written (bash, kcat, supportctl) against the test stack."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import Stack
from tests.support.auth import bearer, token
from tests.support.scenario import WORKED_EXAMPLE_1_TERMS, billing_knows, new_account, sign_running_contract

ROOT = Path(__file__).resolve().parents[2]
RECIPES = re.compile(r"<!-- ops-recipes -->\s*```sh\n(.*?)```\s*<!-- /ops-recipes -->", re.DOTALL)


def readme_recipes() -> str:
    found = RECIPES.search((ROOT / "README.md").read_text())
    assert found, "README.md has no <!-- ops-recipes --> block"
    return found.group(1)


async def test_the_readme_operations_recipes_run_on_the_stack(stack: Stack, kafka_bootstrap: str) -> None:
    if shutil.which("kcat") is None:
        pytest.fail("kcat is not installed (scripts/test.sh installs it)")
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:  # a bill to reconcile
        contract, _start = await sign_running_contract(
            client, stack["contracts"].url, account_id=new_account(), terms=WORKED_EXAMPLE_1_TERMS
        )
        await billing_knows(client, stack["billing"].url, contract["contract_id"])
        made = await client.post(
            f"{stack['billing'].url}/contracts/{contract['contract_id']}/bills", json={"period": "1"}
        )
        assert made.status_code == 201, made.text

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # uv puts supportctl here
        "KAFKA": kafka_bootstrap,
        "SUPPORTCTL_TOKEN": token("admin"),
        "COLUMNS": "200",
        **{
            f"SUPPORTCTL_{name.upper()}_URL": stack[name].url
            for name in ("contracts", "billing", "timetracking")
        },
    }
    result = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-euo", "pipefail", "-x", "-c", readme_recipes()],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "billing.usage-accrual" in output  # lag
    assert "outbox_pending_messages" in output  # metrics
    assert "timetracking.time_entry.logged" in output  # the reply to the kcat command, tailed
    assert "dlq-reason=not JSON" in output  # the dead letter as kcat shows its headers
    assert "would replay" in output and "replayed" in output
    assert "bills reconciled, 0 with differences" in output
