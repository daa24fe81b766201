"""Every command reads ``./.env``: the secret can live there for ``check-receiver``,
``send-test`` and ``stub-site`` alike; a variable already set wins; no value is ever shown."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

import contracts
from contracts.receiver.testing import RunningStubSite
from tests.cli.running import clean_environment, run_cli

SECRET = "dotenv secret 3e9a"
WRONG = "not the secret b771"


def folder_with_dotenv(tmp_path: Path, secret: str) -> Path:
    here = tmp_path / "project"
    here.mkdir()
    (here / ".env").write_text(f"WEBHOOK_SECRET='{secret}'\n", encoding="utf-8")
    return here


def judge(
    here: Path, command: str, site: RunningStubSite, token: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """``hokusai-contract COMMAND`` for ``token`` at the site, run in ``here``."""
    cache = here.parent / "cache"
    args = ("--url", site.webhook_url, "--token", token, *args)
    return run_cli(here, command, *args, env=clean_environment(cache, **env))


def test_check_receiver_finds_the_secret_in_dotenv(tmp_path: Path, site: RunningStubSite) -> None:
    here = folder_with_dotenv(tmp_path, SECRET)
    run = judge(here, "check-receiver", site, "LSCOR", "--no-schemathesis")
    assert run.returncode == 0, run.stdout + run.stderr
    assert SECRET not in run.stdout + run.stderr


def test_send_test_finds_the_secret_in_dotenv(tmp_path: Path, site: RunningStubSite) -> None:
    here = folder_with_dotenv(tmp_path, SECRET)
    run = judge(here, "send-test", site, "LSCOR")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "result: ACCEPTED" in run.stdout
    assert SECRET not in run.stdout + run.stderr


def test_a_secret_already_in_the_environment_wins_over_dotenv(
    tmp_path: Path, site: RunningStubSite
) -> None:
    here = folder_with_dotenv(tmp_path, WRONG)
    run = judge(here, "send-test", site, "OTHER", WEBHOOK_SECRET=SECRET)
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
