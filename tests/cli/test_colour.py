"""Verdict words in colour on a terminal; none when piped, under ``NO_COLOR`` or with
``--color never``; ``--color always`` and ``FORCE_COLOR`` colour a pipe too. The terminal is a
real pseudo-terminal, the command a real process."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from contracts.cli.colour import GREEN, RED, RESET
from contracts.receiver.testing import RunningStubSite
from tests.cli.running import clean_environment, run_cli

SECRET = "colour secret 9d4e"
ESCAPE = "\x1b["


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_environment(tmp_path / "cache", WEBHOOK_SECRET=SECRET, TERM="xterm", **extra)


def on_a_terminal(cwd: Path, *args: str, env: dict[str, str]) -> tuple[int, str]:
    """``hokusai-contract ARGS`` with its standard output on a pseudo-terminal; its exit code
    and everything it wrote there."""
    leader, follower = pty.openpty()
    with open(cwd / "stderr.txt", "wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "contracts", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=errors,
        )
    os.close(follower)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process closed the terminal: everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        code = process.wait(timeout=300)
    return code, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def check_receiver_args(site: RunningStubSite) -> list[str]:
    return ["check-receiver", "--url", site.webhook_url, "--token", "LSCOR", "--no-schemathesis"]


def test_check_receiver_colours_its_verdicts_on_a_terminal(
    tmp_path: Path, site: RunningStubSite
) -> None:
    code, out = on_a_terminal(tmp_path, *check_receiver_args(site), env=environment(tmp_path))
    assert code == 0, out
    progress = next(line for line in out.splitlines() if "valid-delivery" in line)
    assert progress.startswith(f"{GREEN}PASS{RESET}  valid-delivery")
    assert f"\n{GREEN}passed{RESET}\n" in out


def test_check_receiver_piped_has_no_colour(tmp_path: Path, site: RunningStubSite) -> None:
    run = run_cli(tmp_path, *check_receiver_args(site), env=environment(tmp_path))
    assert run.returncode == 0
    assert "PASS  valid-delivery" in run.stdout and ESCAPE not in run.stdout


@pytest.mark.parametrize(
    ("settings", "flags"),
    [
        ({"NO_COLOR": "1"}, []),
        ({}, ["--color", "never"]),
        ({"FORCE_COLOR": "1"}, ["--color=never"]),
    ],
)
def test_no_colour_on_a_terminal_under_no_color_or_color_never(
    tmp_path: Path, site: RunningStubSite, settings: dict[str, str], flags: list[str]
) -> None:
    args = [*check_receiver_args(site), *flags]
    code, out = on_a_terminal(tmp_path, *args, env=environment(tmp_path, **settings))
    assert code == 0, out
    assert "PASS  valid-delivery" in out and ESCAPE not in out


def test_an_empty_no_color_leaves_the_colour_on(tmp_path: Path) -> None:
    args = ["diagnose", "--body", "-", "--header", "sha256=00"]
    code, out = on_a_terminal(tmp_path, *args, env=environment(tmp_path, NO_COLOR=""))
    assert code == 1
    assert out.startswith(f"cause: {RED}malformed_header{RESET}\n")


@pytest.mark.parametrize(
    ("settings", "flags"),
    [
        ({}, ["--color", "always"]),
        ({"FORCE_COLOR": "1"}, []),
        ({"NO_COLOR": "1"}, ["--color=always"]),
    ],
)
def test_color_always_or_force_color_colour_a_pipe(
    tmp_path: Path, site: RunningStubSite, settings: dict[str, str], flags: list[str]
) -> None:
    args = [
        "send-test",
        "--url",
        site.webhook_url,
        "--token",
        "LSCOR",
        *flags,
    ]
    run = run_cli(tmp_path, *args, env=environment(tmp_path, **settings))
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"result: {GREEN}ACCEPTED{RESET}: " in run.stdout


def test_the_reports_written_have_no_colour_even_on_a_terminal(
    tmp_path: Path, site: RunningStubSite
) -> None:
    args = [*check_receiver_args(site), "--json", "r.json", "--junit", "r.xml"]
    code, out = on_a_terminal(tmp_path, *args, env=environment(tmp_path))
    assert code == 0 and ESCAPE in out
    for report in ("r.json", "r.xml"):
        assert ESCAPE not in (tmp_path / report).read_text()
