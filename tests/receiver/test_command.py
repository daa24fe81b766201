"""``hokusai-contract stub-site``: served as a real process, and its token actions in-process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

import contracts
from contracts.cli import main
from tests.receiver.support import SECRET, registration

SERVING = re.compile(r"serving (http://\S+)")


@dataclass
class StubSiteProcess:
    process: subprocess.Popen[str]
    webhook_url: str

    @property
    def base_url(self) -> str:
        return self.webhook_url.removesuffix(contracts.CURRENT_PATH)

    def stop(self, signum: int) -> tuple[int, str]:
        """Send ``signum``, wait for the exit; the exit code and everything it printed."""
        self.process.send_signal(signum)
        out, err = self.process.communicate(timeout=20)
        return self.process.returncode, out + err


def inherited_environment() -> dict[str, str]:
    """This process's environment without the variable the tests put the secret in."""
    return {name: value for name, value in os.environ.items() if name != "STUB_SECRET"}


@contextmanager
def stub_site_process(db: Path, env: dict[str, str], *extra: str) -> Iterator[StubSiteProcess]:
    """``hokusai-contract stub-site`` on a free port, as its own process."""
    command = [sys.executable, "-m", "contracts", "stub-site", "--port", "0", "--db", str(db)]
    process = subprocess.Popen(
        [*command, *extra],
        env={**inherited_environment(), "PYTHONUNBUFFERED": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        match = SERVING.search(first_line)
        assert match, f"stub-site did not start: {first_line!r} {process.stderr}"
        yield StubSiteProcess(process, match.group(1))
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_stub_site_serves_signed_deliveries_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = {"STUB_SECRET": SECRET}
    args = ("--secret-env", "STUB_SECRET", "--token", "lscor")
    with stub_site_process(tmp_path / "site.sqlite3", env, *args) as site:
        health = requests.get(site.base_url + "/health", timeout=10)
        delivery = contracts.signed_delivery(registration(), SECRET)
        answer = requests.post(site.webhook_url, data=delivery.body, headers=delivery.headers)
        state = requests.get(site.base_url + "/api/tokens/LSCOR", timeout=10).json()
        exit_code, output = site.stop(signal.SIGINT)

    assert health.json() == {"success": True, "status": "ok"}
    assert answer.status_code == 200
    assert state["status"] == "REGISTERED"
    assert exit_code == 0
    assert "stub site: stopped" in output
    assert "200 registered token=LSCOR" in output
    assert SECRET not in output
    assert delivery.signature[7:] not in output


def test_stub_site_without_a_secret_starts_warns_and_fails_closed(tmp_path: Path) -> None:
    with stub_site_process(tmp_path / "site.sqlite3", {}, "--secret-env", "STUB_SECRET") as site:
        delivery = contracts.signed_delivery(registration(), SECRET)
        answer = requests.post(site.webhook_url, data=delivery.body, headers=delivery.headers)
        exit_code, output = site.stop(signal.SIGTERM)

    assert answer.status_code == 500
    assert answer.json()["error"] == "Webhook secret not configured"
    assert "warning: no webhook secret is configured" in output
    assert "STUB_SECRET is not set" in output
    assert exit_code == 0


def test_tokens_add_and_list_seed_and_read_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "site.sqlite3")
    assert main(["stub-site", "tokens", "add", "lscor", "other-1", "--db", db]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "LSCOR: DRAFT (added)",
        "OTHER-1: DRAFT (added)",
    ]
    assert main(["stub-site", "--db", db, "tokens", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(token["token_id"], token["status"]) for token in listed] == [
        ("LSCOR", "DRAFT"),
        ("OTHER-1", "DRAFT"),
    ]


def test_tokens_add_refuses_a_bad_id_and_adds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "site.sqlite3")
    assert main(["stub-site", "tokens", "add", "GOOD", "LS_COR", "--db", db]) == 2
    assert '"_" at position 2' in capsys.readouterr().err
    assert main(["stub-site", "tokens", "list", "--db", db]) == 0
    assert "no tokens" in capsys.readouterr().out


def test_tokens_list_on_a_missing_store_says_how_to_create_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.sqlite3"
    assert main(["stub-site", "tokens", "list", "--db", str(missing)]) == 2
    assert "tokens add LSCOR" in capsys.readouterr().err
    assert not missing.exists()


def test_a_file_that_is_not_a_store_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("these are not the tokens you are looking for\n" * 100)
    assert main(["stub-site", "tokens", "add", "LSCOR", "--db", str(not_a_store)]) == 2
    assert "cannot be used as the token store" in capsys.readouterr().err


def test_a_port_already_taken_is_a_clear_error_naming_the_option(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "contracts",
                "stub-site",
                "--port",
                str(port),
                "--db",
                str(tmp_path / "site.sqlite3"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in result.stderr
    assert "--port" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("words", "usage"),
    [
        (["tokens"], "usage: hokusai-contract stub-site tokens [-h] ACTION ..."),
        (["tokens", "add"], "usage: hokusai-contract stub-site tokens add [-h] [--reset]"),
        (["tokens", "list"], "usage: hokusai-contract stub-site tokens list [-h] [--json]"),
    ],
)
def test_the_token_actions_help_starts_with_their_own_one_line_usage(
    words: list[str], usage: str
) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "contracts", "stub-site", *words, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert shown.startswith((usage + " ", usage + "\n")), shown
