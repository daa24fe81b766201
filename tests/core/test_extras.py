"""The extras: what each installs, and what a command does when its own is missing.

The commands run in real virtual environments built with uv from this checkout: one with only
the ``check`` extra (what a website team installs), one with the checks' dependencies but not
Schemathesis. Each is built once per session, from uv's cache when it holds the packages.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.setup import install_extra, uv_executable
from contracts.receiver import RunningStubSite, running_stub_site
from contracts.support.extras import extra_requirements

SECRET = "a secret shared with the checks"


def test_each_extra_names_the_distributions_of_the_extras_it_includes() -> None:
    check = set(extra_requirements("check"))
    harness = set(extra_requirements("harness"))
    assert {"requests", "schemathesis", "werkzeug", "pyyaml"} <= check  # receiver, openapi
    assert not {"mlflow", "mlflow-skinny"} & check
    assert check | {"mlflow", "mlflow-skinny", "pytest"} <= harness
    assert set(extra_requirements("dev")) >= harness | {"ruff", "mypy"}
    bridge = set(extra_requirements("bridge"))
    assert {"werkzeug", "requests", "mlflow-skinny"} <= bridge <= harness
    assert "mlflow" not in bridge and "schemathesis" not in bridge
    assert extra_requirements("no-such-extra") == ()


def build(folder: Path, *targets: str) -> Path:
    """A virtual environment holding ``targets`` (this checkout with an extra, or packages)."""
    uv = uv_executable()
    if uv is None:
        pytest.skip("uv is not installed")
    extra, *others = targets
    installed = install_extra(extra, folder, uv, others=others, fall_back_online=True)
    return installed.python.with_name("hokusai-contract")


@pytest.fixture(scope="session")
def check_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``hokusai-contract`` of an environment with ``hokusai-contracts[check]`` only."""
    return build(tmp_path_factory.mktemp("check-only") / "venv", "check")


@pytest.fixture(scope="session")
def without_schemathesis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``hokusai-contract`` of an environment with the checks' dependencies but Schemathesis."""
    folder = tmp_path_factory.mktemp("no-schemathesis") / "venv"
    return build(folder, "receiver,openapi", "requests", "python-dotenv", "hypothesis")


def run(command: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(command), *arguments],
        cwd=command.parents[2],  # not the checkout: only what is installed is importable
        env={**os.environ, "WEBHOOK_SECRET": SECRET},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[RunningStubSite]:
    """A stub site (in this process) with LSCOR and OTHER in DRAFT."""
    with running_stub_site(tmp_path / "stub.sqlite3", SECRET, ("LSCOR", "OTHER")) as site:
        yield site


def test_the_check_extra_holds_no_mlflow(check_only: Path) -> None:
    python = check_only.with_name("python")
    for module in ("mlflow", "pytest_httpserver"):
        found = subprocess.run(
            [str(python), "-c", f"import {module}"], capture_output=True, text=True, check=False
        )
        assert found.returncode == 1 and "No module named" in found.stderr, module


def test_check_receiver_runs_every_check_with_the_check_extra_alone(
    check_only: Path, stub: RunningStubSite
) -> None:
    checked = run(
        check_only,
        "check-receiver",
        "--url",
        stub.webhook_url,
        "--token",
        "LSCOR",
        "--spare-token",
        "OTHER",
        "--state-url",
        stub.state_url_template,
        "--max-examples",
        "5",
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "PASS  schemathesis-positive" in checked.stdout


@pytest.mark.parametrize(
    ("arguments", "extra"),
    [
        (("contract-test",), "harness"),
        (("resend",), "sender"),
        (("check-sender", "--tracking-uri", "http://127.0.0.1:9", "--", "true"), "sender"),
        (("bridge", "--catch-up", "--tracking-uri", "http://127.0.0.1:9"), "bridge"),
        (("mlflow-webhook", "list", "--tracking-uri", "http://127.0.0.1:9"), "sender"),
    ],
    ids=["contract-test", "resend", "check-sender-with-mlflow", "bridge", "mlflow-webhook"],
)
def test_a_command_that_needs_mlflow_names_its_extra_in_one_line_before_any_work(
    check_only: Path, arguments: tuple[str, ...], extra: str
) -> None:
    refused = run(check_only, *arguments)
    assert refused.returncode == 2
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"hokusai-contract {arguments[0]}: error: this command needs the ")
    assert f"pip install 'hokusai-contracts[{extra}]'" in line


def test_check_receiver_without_schemathesis_changes_nothing_before_naming_its_extra(
    without_schemathesis: Path, stub: RunningStubSite
) -> None:
    refused = run(
        without_schemathesis,
        "check-receiver",
        "--url",
        stub.webhook_url,
        "--token",
        "LSCOR",
    )
    assert refused.returncode == 2
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert "'check' extra (schemathesis is not installed)" in line
    token = stub.store.token("LSCOR")
    assert token is not None and token.status == "DRAFT"  # no check sent a delivery


def test_replay_works_with_the_check_extra_alone(check_only: Path, stub: RunningStubSite) -> None:
    refused = run(check_only, "replay", "999", "--url", stub.webhook_url, "--from", stub.base_url)
    assert refused.returncode == 2, refused.stderr  # no such delivery: it ran, not "needs extra"
    assert "needs the" not in refused.stderr
