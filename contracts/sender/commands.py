"""``hokusai-contract`` subcommands of the sender room."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Add this room's subcommands to the CLI."""
