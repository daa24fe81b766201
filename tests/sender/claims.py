"""Claims as other sender processes leave them in an outbox."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import contracts

_CLAIM_AND_END = """
import sys, contracts
from contracts.sender import Outbox
payload = contracts.parse_body(sys.argv[2].encode())
assert Outbox(sys.argv[1]).add(payload, sys.argv[3], None, claim_seconds=600)
"""


def claim_in_a_process_that_then_ends(
    outbox_path: Path, payload: Mapping[str, Any], key: str
) -> None:
    """A real process claims the notification for 10 minutes, then exits without an outcome."""
    body = contracts.serialize(payload).decode()
    subprocess.run(
        [sys.executable, "-c", _CLAIM_AND_END, str(outbox_path), body, key],
        check=True,
        timeout=60,
    )
