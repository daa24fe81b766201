"""Run ``hokusai-contract`` as users do: its own process, in a folder of the test's choosing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

SECRET_NAMES = ("WEBHOOK_SECRET", "HOKUSAI_SITE_WEBHOOK_SECRET", "HOOK_SECRET")
"""Variables a test may put a secret in: never inherited, so each test sets its own."""


def clean_environment(cache: Path, **extra: str) -> dict[str, str]:
    """This process's environment without secrets or colour settings, its caches in ``cache``."""
    left_out = {*SECRET_NAMES, "NO_COLOR", "FORCE_COLOR", "HOKUSAI_CONTRACTS_CACHE"}
    env = {name: value for name, value in os.environ.items() if name not in left_out}
    return {**env, "XDG_CACHE_HOME": str(cache), "PYTHONUNBUFFERED": "1", **extra}


def run_cli(
    cwd: Path, *args: str, env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``hokusai-contract ARGS`` in ``cwd``; its exit code and what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "contracts", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
