"""The one folder this package keeps its caches in, so that no command litters the folder it
runs in: ``$HOKUSAI_CONTRACTS_CACHE``, else ``hokusai-contracts`` under ``$XDG_CACHE_HOME``,
else under ``~/.cache``."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "HOKUSAI_CONTRACTS_CACHE"


def cache_root() -> Path:
    """Where the caches live (not created here: each user creates what it writes)."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hokusai-contracts"
