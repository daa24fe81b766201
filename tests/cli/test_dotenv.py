"""Every command reads ``./.env``: the secret can live there for ``check-receiver``,
``send-test`` and ``stub-site`` alike; a variable already set wins; no value is ever shown."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import contracts
from contracts.receiver.testing import RunningStubSite, running_stub_site
from tests.cli.running import clean_environment, run_cli

SECRET = "dotenv secret 3e9a"
WRONG = "not the secret b771"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[RunningStubSite]:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET, ["LSCOR", "OTHER"]) as running:
        yield running


def folder_with_dotenv(tmp_path: Path, secret: str) -> Path:
    here = tmp_path / "project"
    here.mkdir()
    (here / ".env").write_text(f"WEBHOOK_SECRET='{secret}'\n", encoding="utf-8")
    return here


def test_check_receiver_finds_the_secret_in_dotenv(tmp_path: Path, site: RunningStubSite) -> None:
    here = folder_with_dotenv(tmp_path, SECRET)
    run = run_cli(
        here,
        "check-receiver",
        "--url",
        site.webhook_url,
        "--token",
        "LSCOR",
        "--no-schemathesis",
        env=clean_environment(tmp_path / "cache"),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert SECRET not in run.stdout + run.stderr


def test_send_test_finds_the_secret_in_dotenv(tmp_path: Path, site: RunningStubSite) -> None:
    here = folder_with_dotenv(tmp_path, SECRET)
    run = run_cli(
        here,
        "send-test",
        "--url",
        site.webhook_url,
        "--token",
        "LSCOR",
        env=clean_environment(tmp_path / "cache"),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "result: ACCEPTED" in run.stdout
    assert SECRET not in run.stdout + run.stderr


def test_a_secret_already_in_the_environment_wins_over_dotenv(
    tmp_path: Path, site: RunningStubSite
) -> None:
    here = folder_with_dotenv(tmp_path, WRONG)
    run = run_cli(
        here,
        "send-test",
        "--url",
        site.webhook_url,
        "--token",
        "OTHER",
        env=clean_environment(tmp_path / "cache", WEBHOOK_SECRET=SECRET),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert WRONG not in run.stdout + run.stderr


def test_stub_site_finds_the_secret_in_dotenv(tmp_path: Path) -> None:
    here = folder_with_dotenv(tmp_path, SECRET)
    process = subprocess.Popen(
        [sys.executable, "-m", "contracts", "stub-site", "--port", "0", "--token", "LSCOR"],
        cwd=here,
        env=clean_environment(tmp_path / "cache"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner and process.poll() is None:
            banner += process.stdout.readline()
        match = re.search(r"serving (http://\S+)", banner)
        assert match, banner
        delivery = contracts.signed_delivery(
            contracts.build_model_payload(token_id="LSCOR", model_name="m", model_version="1"),
            SECRET,
        )
        answer = requests.post(
            match.group(1), data=delivery.body, headers=delivery.headers, timeout=30
        )
        assert answer.status_code == 200, answer.text
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert "secrets configured: 1" in banner + out
    assert SECRET not in banner + out + err


def test_an_unreadable_dotenv_is_one_line_naming_it(tmp_path: Path) -> None:
    here = tmp_path / "project"
    here.mkdir()
    (here / ".env").write_bytes(b"WEBHOOK_SECRET=\xff\xfe\n")
    run = run_cli(here, "schema", env=clean_environment(tmp_path / "cache"))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and ".env cannot be read" in run.stderr, run.stderr
