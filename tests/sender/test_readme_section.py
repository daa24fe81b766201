"""The README's SDK example runs as written against the real server and the stub site."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from contracts.cli import build_parser
from contracts.receiver.testing import RunningStubSite
from tests.docs.markdown import fenced_blocks, read, section

SECTION = section(read("README.md"), "SDK side: register and notify")
pytest_plugins = ["pytester"]


@pytest.mark.mlflow
def test_the_readme_example_registers_and_flips_the_token(
    mlflow_server: Any,
    stub_site: RunningStubSite,
    webhook_secret: str,
    tiny_model_uri: str,
    outbox_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    example, _ = fenced_blocks(SECTION, "python")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.tracking_uri)
    monkeypatch.setenv("WEBHOOK_URL", stub_site.webhook_url)
    monkeypatch.setenv("WEBHOOK_SECRET", webhook_secret)
    printed = io.StringIO()

    with redirect_stdout(printed):
        exec(example.replace("runs:/<run_id>/model", tiny_model_uri), {})

    assert printed.getvalue().split()[1:3] == ["True", "delivered"]
    assert stub_site.token("LSCOR")["status"] == "REGISTERED"


@pytest.mark.mlflow
def test_the_readme_plugin_example_passes_in_an_sdk_test_suite(
    mlflow_server: Any, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, plugin_example = fenced_blocks(SECTION, "python")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.tracking_uri)  # reuse this server
    pytester.makepyfile(
        test_sdk="from contracts.sender import ModelRegistry\n\n\n" + plugin_example
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_every_command_in_the_section_is_accepted_by_the_cli() -> None:
    (commands,) = fenced_blocks(SECTION, "sh")
    parser = build_parser()
    for line in commands.splitlines():
        arguments = line.split("#")[0].split()
        assert arguments[0] == "hokusai-contract"
        parser.parse_args(arguments[1:])
