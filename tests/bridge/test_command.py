"""``hokusai-contract bridge``: one-line errors with distinct exit codes, a clean Ctrl-C."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from contracts.bridge import sign_mlflow_delivery
from contracts.bridge.suite import BridgeProcess
from contracts.cli import main
from contracts.cli.bridge import EXIT_MLFLOW
from contracts.cli.options import EXIT_USAGE
from contracts.receiver import running_stub_site
from contracts.sender.mlflow_webhooks import SECRET_ENV
from tests.bridge.test_app import created

SITE_SECRET = "site-secret-value-1234"
MLFLOW_SECRET = "mlflow-secret-value-5678"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No settings from the machine, no ``.env``, the outbox in the test's folder."""
    for name in (
        "HOKUSAI_SITE_WEBHOOK_URL",
        "WEBHOOK_URL",
        "HOKUSAI_SITE_WEBHOOK_SECRET",
        "MLFLOW_TRACKING_URI",
        SECRET_ENV,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEBHOOK_SECRET", SITE_SECRET)
    monkeypatch.setenv("HOKUSAI_OUTBOX", str(tmp_path / "outbox.sqlite3"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def dead_url() -> Iterator[str]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str]:
    code = main(["bridge", *arguments])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


SITE = "https://example.com/api/webhooks/model-registration"


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ((), "nothing to do: give --port"),
        (("--url", SITE, "--token", "LSCOR", "--port", "0"), "--token only applies"),
        (("--url", SITE, "--catch-up"), "pass --tracking-uri"),
        (("--port", "0"), "no website URL"),
        (("--url", "ftp://x", "--port", "0"), "--url 'ftp://x' is not an http(s) URL"),
        (("--url", SITE, "--port", "0"), f"{SECRET_ENV} is not set"),
        (("--url", SITE, "--port", "0", "--mlflow-secret-env", "s3cr3t!"), "not the secret"),
    ],
)
def test_a_usage_mistake_is_one_line_naming_it_with_exit_2(
    capsys: pytest.CaptureFixture[str], arguments: tuple[str, ...], words: str
) -> None:
    code, output = run(capsys, *arguments)

    assert code == EXIT_USAGE
    assert words in output
    assert len(output.strip().splitlines()) == 1
    assert "s3cr3t!" not in output and SITE_SECRET not in output


def test_an_unreachable_tracking_server_for_a_catch_up_is_exit_4(
    capsys: pytest.CaptureFixture[str], dead_url: str
) -> None:
    code, output = run(capsys, "--url", SITE, "--catch-up", "--tracking-uri", dead_url)

    assert code == EXIT_MLFLOW
    assert "is not reachable" in output
    assert len(output.strip().splitlines()) == 1


def test_a_catch_up_from_a_web_server_that_is_not_mlflow_says_so_with_exit_4(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with running_stub_site(tmp_path / "site.sqlite3", SITE_SECRET) as site:
        elsewhere = site.webhook_url.removesuffix(urlsplit(site.webhook_url).path)
        code, output = run(capsys, "--url", SITE, "--catch-up", "--tracking-uri", elsewhere)

    assert code == EXIT_MLFLOW
    (line,) = output.strip().splitlines()
    assert f"{elsewhere} answered, but not as an MLflow tracking server" in line
    assert "failed" not in line


def test_a_port_already_taken_is_one_line_with_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, MLFLOW_SECRET)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        code, output = run(capsys, "--url", SITE, "--port", port)

    assert code == EXIT_USAGE
    assert "pick another port" in output
    assert len(output.strip().splitlines()) == 1


def test_ctrl_c_stops_the_bridge_with_one_line_and_no_secret_is_ever_printed(
    dead_url: str, tmp_path: Path
) -> None:
    env = {"WEBHOOK_SECRET": SITE_SECRET, SECRET_ENV: MLFLOW_SECRET}
    site = f"{dead_url}/api/webhooks/model-registration"
    outbox = str(tmp_path / "outbox.sqlite3")
    with BridgeProcess(["--url", site, "--outbox", outbox], env) as bridge:
        body = created("lscor")
        answer = requests.post(
            bridge.url, data=body, headers=sign_mlflow_delivery(body, MLFLOW_SECRET), timeout=30
        )
        code = bridge.interrupt()

    assert answer.json()["outcome"] == "queued"
    assert code == 0
    last = bridge.lines[-1]
    assert last.startswith("bridge: stopped; 1 notification(s) wait in the outbox"), bridge.output
    assert "Traceback" not in bridge.output
    assert SITE_SECRET not in bridge.output and MLFLOW_SECRET not in bridge.output


def test_ctrl_c_the_moment_it_says_it_serves_still_stops_it_cleanly(
    dead_url: str, tmp_path: Path
) -> None:
    env = {"WEBHOOK_SECRET": SITE_SECRET, SECRET_ENV: MLFLOW_SECRET}
    arguments = ["--url", f"{dead_url}/hook", "--outbox", str(tmp_path / "outbox.sqlite3")]
    with BridgeProcess(arguments, env) as bridge:
        code = bridge.interrupt()

    assert code == 0, bridge.output
    assert bridge.lines[-1] == "bridge: stopped\n"
