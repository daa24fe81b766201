"""``check-sender --listen`` judges a sender started elsewhere: run as its own process, it prints
the URL and the variables to set (the secret only as a file to read), announces each delivery as
it arrives, and ends at --timeout or Ctrl-C with the summary and the exit status of the checks."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conformance.test_check_sender import WEBHOOK_SENDER
from tests.reliability.processes import interruptible

SAFETY_TIMEOUT = 60


@dataclass
class Listening:
    process: subprocess.Popen[str]
    announced: list[str]
    variables: dict[str, str]

    def read_until(self, words: str) -> str:
        """Read the judge's output line by line until one holds ``words``."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.announced.append(line)
            if words in line:
                return line
        raise AssertionError(f"the judge ended without printing {words!r}: {self.announced}")

    def finish(self) -> tuple[int, str]:
        remaining, _ = self.process.communicate(timeout=SAFETY_TIMEOUT)
        return self.process.returncode, "".join(self.announced) + remaining


@contextmanager
def listening(*options: str) -> Iterator[Listening]:
    process = subprocess.Popen(
        interruptible("check-sender", "--listen", *options),
        stdout=subprocess.PIPE,
        text=True,
    )
    judge = Listening(process, [], {})
    try:
        judge.read_until("Judging deliveries as they arrive")
        for line in judge.announced:
            if line.strip().startswith("export "):
                name, _, value = line.strip().removeprefix("export ").partition("=")
                judge.variables[name] = value
        yield judge
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=SAFETY_TIMEOUT)


def sender_environment(judge: Listening) -> dict[str, str]:
    """What someone following the printed lines would set: the URL, and the secret file read."""
    url = shlex.split(judge.variables["HOKUSAI_SITE_WEBHOOK_URL"])[0]
    secret_file = Path(judge.variables["WEBHOOK_SECRET"].split("cat ", 1)[1].split(")")[0])
    secret = secret_file.read_text(encoding="utf-8")
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    return {**os.environ, "WEBHOOK_URL": url, "WEBHOOK_SECRET": secret}


def send(judge: Listening, *options: str) -> str:
    """Run a sender as the printed lines say; return the secret it was given."""
    environment = sender_environment(judge)
    subprocess.run(
        [sys.executable, str(WEBHOOK_SENDER), *options],
        env=environment,
        check=True,
        timeout=SAFETY_TIMEOUT,
    )
    return environment["WEBHOOK_SECRET"]


def test_a_sender_started_elsewhere_is_judged_and_the_run_ends_at_the_timeout() -> None:
    with listening("--timeout", "30") as judge:
        assert set(judge.variables) == {
            "HOKUSAI_SITE_WEBHOOK_URL",
            "WEBHOOK_URL",
            "HOKUSAI_SITE_WEBHOOK_SECRET",
            "WEBHOOK_SECRET",
        }
        assert judge.variables["WEBHOOK_URL"].endswith("/api/webhooks/model-registration")
        secret = send(judge)
        judge.read_until("delivery 1: POST /api/webhooks/model-registration")
        status, output = judge.finish()
    assert status == 0, output
    assert "Stopped at --timeout (30 s) passed." in output
    assert "SKIP  sender-command" in output
    assert "sender-delivered         PASS     1 registration, each delivered" in output
    assert secret not in output
    assert not Path(secret_path(output)).exists()


def secret_path(output: str) -> str:
    line = next(line for line in output.splitlines() if "export WEBHOOK_SECRET=" in line)
    return line.split("cat ", 1)[1].split(")")[0]


def test_ctrl_c_ends_the_listening_with_the_summary_of_what_arrived() -> None:
    with listening() as judge:
        send(judge, "--token-case", "upper")
        judge.read_until("delivery 1:")
        judge.process.send_signal(signal.SIGINT)
        status, output = judge.finish()
    assert status == 1
    assert "Stopped at Ctrl-C." in output
    assert "v2 model.id 'LSCOR' not lower-cased" in output


def test_listening_until_the_timeout_with_nothing_arriving_fails_and_says_so() -> None:
    with listening("--timeout", "1") as judge:
        status, output = judge.finish()
    assert status == 1
    assert "no delivery arrived before --timeout (1 s) passed" in output
    assert not Path(secret_path(output)).exists()
