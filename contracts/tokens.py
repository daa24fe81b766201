"""Token ids: 1-64 characters of A-Z, 0-9 and '-', not starting or ending with '-'.

Senders upper-case before sending and receivers upper-case before lookup, so ``lscor`` and
``LSCOR`` name the same token. Only ASCII is accepted: ``str.upper`` maps some non-ASCII letters
onto ASCII ones (dotless i upper-cases to I), which would let two inputs land on one token.
"""

from __future__ import annotations

import json
import re
from enum import Enum

MAX_TOKEN_ID_LENGTH = 64
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


class TokenIdRule(str, Enum):
    """The rule a token id broke; values are shared with the other language clients."""

    NOT_A_STRING = "not_a_string"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    INVALID_CHARACTER = "invalid_character"
    LEADING_HYPHEN = "leading_hyphen"
    TRAILING_HYPHEN = "trailing_hyphen"


class TokenIdError(ValueError):
    """A token id broke one of the rules; ``rule`` says which and ``value`` holds the input."""

    def __init__(self, rule: TokenIdRule, value: object, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.value = value


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def quoted(value: str) -> str:
    """``value`` as a JSON string literal, written exactly as JavaScript's JSON.stringify does.

    Non-ASCII stays as it is; a lone surrogate (which UTF-8 cannot carry) becomes ``\\uXXXX``.
    Messages quoted this way read the same in every language client.
    """
    literal = json.dumps(value, ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", literal)


def _json_type_name(value: object) -> str:
    """The JSON name of a value's type, so messages read the same in every language."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def token_id_problem(value: object) -> TokenIdError | None:
    """Return the error for ``value``, or ``None`` when it is a valid token id in any case."""
    if not isinstance(value, str):
        return TokenIdError(
            TokenIdRule.NOT_A_STRING,
            value,
            f"token id must be a string, got {_json_type_name(value)}",
        )
    if not value:
        return TokenIdError(
            TokenIdRule.EMPTY, value, "token id is empty; it must be 1 to 64 characters"
        )
    if len(value) > MAX_TOKEN_ID_LENGTH:
        return TokenIdError(
            TokenIdRule.TOO_LONG,
            value,
            f"token id {quoted(value)} is {len(value)} characters long; "
            f"at most {MAX_TOKEN_ID_LENGTH} are allowed",
        )
    for position, character in enumerate(value):
        if character not in _ALLOWED:
            return TokenIdError(
                TokenIdRule.INVALID_CHARACTER,
                value,
                f"token id {quoted(value)} has {quoted(character)} at position {position}; "
                "only letters A-Z, digits 0-9 and '-' are allowed",
            )
    if value.startswith("-"):
        return TokenIdError(
            TokenIdRule.LEADING_HYPHEN,
            value,
            f"token id {quoted(value)} starts with '-'; it must start with a letter or digit",
        )
    if value.endswith("-"):
        return TokenIdError(
            TokenIdRule.TRAILING_HYPHEN,
            value,
            f"token id {quoted(value)} ends with '-'; it must end with a letter or digit",
        )
    return None


def normalize_token_id(value: str) -> str:
    """Return ``value`` upper-cased, or raise :class:`TokenIdError` naming the broken rule."""
    problem = token_id_problem(value)
    if problem is not None:
        raise problem
    return value.upper()


def is_valid_token_id(value: object) -> bool:
    """True when ``value`` is a valid token id in any case."""
    return token_id_problem(value) is None
