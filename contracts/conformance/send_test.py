"""``hokusai-contract`` subcommand `send-test`: one signed delivery, interpreted in words."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Add this room's subcommands to the CLI."""
