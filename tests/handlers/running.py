"""Start a handler of :mod:`tests.handlers` as a real HTTP server, and stop it cleanly: the
Python ones in a thread of this process (werkzeug), the Node.js ones as a ``node`` process."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from contracts import CURRENT_PATH, SEED_PATH
from contracts.support.server import serving
from tests.handlers.python_handlers import PYTHON_HANDLERS, STATE_URL_TEMPLATE

NODE_HANDLERS_SCRIPT = Path(__file__).with_name("node_handlers.mjs")
NODE_HANDLERS = (
    "express-json-stringify",
    "express-raw-timing-safe-equal",
    "express-raw-correct",
    "express-plain-text-errors",
    "express-closes-after-413",
    "nextjs-json-first",
    "nextjs-text-correct",
    "express-drops-get",
    "express-raw-v1-only",
    "nextjs-model-id-case-sensitive",
)
STARTUP_TIMEOUT_S = 30.0
"""A safety net only: node prints its port within a fraction of a second."""


@dataclass(frozen=True)
class RunningHandler:
    """Where a running handler answers."""

    base_url: str

    @property
    def webhook_url(self) -> str:
        """At the path the SDK posts to."""
        return self.base_url + CURRENT_PATH

    @property
    def seed_url(self) -> str:
        """At the seed path, which a website serves too."""
        return self.base_url + SEED_PATH

    @property
    def state_url_template(self) -> str:
        return self.base_url + STATE_URL_TEMPLATE


@contextmanager
def running_handler(kind: str, secret: str, tokens: Iterable[str]) -> Iterator[RunningHandler]:
    """Serve the handler ``kind`` (Python or Node.js) holding ``secret`` and ``tokens`` (DRAFT)."""
    if kind in PYTHON_HANDLERS:
        with serving(PYTHON_HANDLERS[kind](secret, tokens)) as server:
            yield RunningHandler(server.base_url)
    elif kind in NODE_HANDLERS:
        with running_node_handler(kind, secret, tokens) as handler:
            yield handler
    else:
        raise ValueError(f"no handler {kind!r}")


@contextmanager
def running_node_handler(kind: str, secret: str, tokens: Iterable[str]) -> Iterator[RunningHandler]:
    """``node node_handlers.mjs KIND TOKENS``, until the block ends; then SIGTERM and wait."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    process = subprocess.Popen(
        [node, str(NODE_HANDLERS_SCRIPT), kind, ",".join(tokens)],
        env={**os.environ, "HANDLER_SECRET": secret},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = _port_printed(process)
        yield RunningHandler(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _port_printed(process: subprocess.Popen[str]) -> int:
    """The port the handler prints once it listens."""
    assert process.stdout is not None and process.stderr is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(STARTUP_TIMEOUT_S):
            raise RuntimeError("the Node.js handler did not start")
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the Node.js handler exited: {process.stderr.read()}")
    port: int = json.loads(line)["port"]
    return port
