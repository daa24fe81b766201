"""A command run as a child process, everything it prints kept, read line by line as it comes.

The commands that serve (the stub site, the bridge) say where with one line once they listen;
whoever starts one waits for that line, and keeps the rest of the output to quote when
something goes wrong.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

from contracts.support.stopping import StopsOnExit

_POLL = 0.1
_REAP_TIMEOUT = 10.0


class ChildProcess(StopsOnExit):
    """``command`` running with ``env`` added to this environment; stdout and stderr kept."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            text=True,
        )
        self.lines: list[str] = []
        self._arrived: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    @property
    def output(self) -> str:
        """Everything the process printed so far."""
        return "".join(self.lines)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            self._arrived.put(line)

    def wait_for_line(self, prefix: str, timeout: float) -> str | None:
        """The rest of the first line (from now on) starting with ``prefix``; ``None`` when the
        process ends or ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._arrived.get(timeout=_POLL)
            except queue.Empty:
                if self.process.poll() is not None and self._arrived.empty():
                    return None
                continue
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip()
        return None

    def _ended(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=_REAP_TIMEOUT)  # the last lines are read
        return code

    def kill(self) -> None:
        """SIGKILL: no handler runs, no connection is closed politely, nothing is flushed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self._ended(_REAP_TIMEOUT)

    def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl-C (SIGINT), as a user stops it; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self._ended(timeout)

    def stop(self) -> None:
        """SIGTERM, the way an operator stops it; SIGKILL if it does not end in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self._ended(_REAP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
