"""The ``hokusai-contract`` command as real child processes: the stub site and one-shot runs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import contracts
from contracts.support.child import ChildProcess

START_TIMEOUT_S = 30.0
SERVING_LINE = "stub site: serving "


def hokusai_contract() -> list[str]:
    """The installed console script, or the module when only the source tree is importable."""
    script = Path(sys.executable).with_name("hokusai-contract")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "contracts"]


def run_command(
    arguments: Sequence[str],
    env: Mapping[str, str],
    timeout: float = 120.0,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one ``hokusai-contract`` subcommand to its end; output captured as text."""
    return subprocess.run(
        [*hokusai_contract(), *arguments],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class StubSiteProcess(ChildProcess):
    """``hokusai-contract stub-site`` as a child process; everything it prints is kept."""

    def __init__(
        self, db_path: Path, *, port: int, secret_env: str, secret: str, tokens: Sequence[str] = ()
    ) -> None:
        command = [
            *hokusai_contract(),
            "stub-site",
            "--port",
            str(port),
            "--secret-env",
            secret_env,
            "--db",
            str(db_path),
        ]
        for token_id in tokens:
            command += ["--token", token_id]
        super().__init__(command, {secret_env: secret})
        url = self.wait_for_line(SERVING_LINE, START_TIMEOUT_S)
        if url is None:
            self.kill()
            raise AssertionError("the stub site did not start:\n" + self.output)
        self.base_url = url.removesuffix(contracts.CURRENT_PATH)

    @property
    def webhook_url(self) -> str:
        return self.base_url + contracts.DEFAULT_PATH

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


def interruptible(*arguments: str) -> list[str]:
    """``python -m contracts ARGUMENTS`` that Ctrl-C (SIGINT) reaches as a user's would.

    A process started in the background by a non-interactive shell (as a CI job may be) inherits
    SIGINT ignored, and Python then never raises KeyboardInterrupt: the command is started with
    SIGINT put back to its default first, so that the test judges the command, not its parent.
    """
    restore = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "os.execv(sys.executable, [sys.executable, '-m', 'contracts', *sys.argv[1:]])"
    )
    return [sys.executable, "-c", restore, *arguments]
