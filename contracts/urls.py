"""Webhook URLs: what counts as usable, and how to show one without its credentials.

A URL carries credentials in two places: its user info (``user:password@``, or a bare token
``token@``) and its query (``?token=...``, ``?api_key=...``); some put one in the fragment too
(``#access_token=...``). Everything that shows or stores a URL (messages, logs, reports, the
outbox) goes through this module, so one rule hides them all. It parses by hand, on purpose:
it must work on text that no URL parser accepts, and must never change what it does not hide.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote, unquote_plus, urlsplit

EXAMPLE_WEBHOOK_URL = "https://example.com/api/webhooks/model-registration"
MASK = "***"
"""What a hidden value is shown as."""

_CREDENTIAL_NAME = re.compile(
    r"token|key|secret|sig|pass|pwd|auth|credential|session|jwt", re.IGNORECASE
)
"""A query parameter whose name contains one of these holds a credential (``api_key``,
``access_token``, ``X-Amz-Signature``, ``pass``, ``sessionid``...): its value is hidden."""
_PARAMETER_SEPARATORS = re.compile(r"[&;]")
"""``;`` too: some servers still split on it, and hiding one value too many costs nothing."""
_QUOTED_PARAMETER = re.compile(r"(?<=[?&;#])(?P<name>[^=&;#?\s\"'<>]+)=(?P<value>[^&;#\s\"'<>]*)")
"""A ``name=value`` after ``?``, ``&``, ``;`` or ``#`` in free text: a quoted URL's query."""
_LIBRARY_LOGGERS = ("urllib3.connectionpool",)
"""Loggers of libraries that log request URLs with their query (at DEBUG)."""


def http_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be posted to (not absolute http(s), no host, bad port), or ``None``."""
    try:
        parts = urlsplit(url)
        port_problem = parts.port is not None and not 0 < parts.port < 65536
    except ValueError:
        return "its port is not a number from 1 to 65535"
    if parts.scheme not in ("http", "https"):
        return "it does not start with http:// or https://"
    if not parts.hostname:
        return "it names no host"
    if port_problem:
        return "its port is not a number from 1 to 65535"
    return None


def _authority_bounds(url: str) -> tuple[int, int] | None:
    """Where the ``user:password@host:port`` part of ``url`` starts and ends, if it has one."""
    start = url.find("//")
    if start < 0:
        return None
    start += 2
    ends = [index for index in (url.find(mark, start) for mark in "/?#") if index >= 0]
    return start, min(ends, default=len(url))


def _user_info(url: str) -> str | None:
    """The user info of ``url`` (``user:password`` or a bare token), or ``None``."""
    bounds = _authority_bounds(url)
    authority = url[bounds[0] : bounds[1]] if bounds else ""
    return authority.rsplit("@", 1)[0] if "@" in authority else None


def is_credential_name(name: str) -> bool:
    """Whether a parameter or header named ``name`` holds a credential (``api_key``,
    ``X-Auth-Token``, ``sessionid``...): its value is hidden wherever it is shown or stored."""
    return bool(_CREDENTIAL_NAME.search(name) or _CREDENTIAL_NAME.search(unquote_plus(name)))


def _parameters(text: str) -> Iterable[tuple[int, int, str]]:
    """Each ``name=value`` of a query or fragment: where its value starts and ends, its name."""
    position = 0
    for parameter in _PARAMETER_SEPARATORS.split(text):
        name, equals, _ = parameter.partition("=")
        if equals:
            start = position + len(name) + 1
            yield start, position + len(parameter), name
        position += len(parameter) + 1


def _secret_spans(url: str) -> list[tuple[int, int]]:
    """Where in ``url`` each credential-like query (or fragment) value lies."""
    after_authority = (_authority_bounds(url) or (0, 0))[1]
    query, fragment = url.find("?", after_authority), url.find("#", after_authority)
    pieces = []
    if query >= 0 and (fragment < 0 or query < fragment):
        pieces.append((query + 1, fragment if fragment >= 0 else len(url)))
    if fragment >= 0:
        pieces.append((fragment + 1, len(url)))
    return [
        (offset + start, offset + end)
        for offset, end_of_piece in pieces
        for start, end, name in _parameters(url[offset:end_of_piece])
        if end > start and is_credential_name(name)
    ]


def url_secrets(url: str) -> list[str]:
    """Every secret ``url`` holds, as written in it and decoded: the user info, its password
    or bare token, and each credential-like query value. Longest first."""
    found: set[str] = set()
    user_info = _user_info(url)
    if user_info:
        user, _, password = user_info.partition(":")
        found.update((user_info, password or user))
    found.update(url[start:end] for start, end in _secret_spans(url))
    decoded = {unquote(secret) for secret in found} | {unquote_plus(secret) for secret in found}
    return sorted((found | decoded) - {""}, key=lambda secret: (-len(secret), secret))


def redacted_url(url: str, *, drop_user_info: bool = False) -> str:
    """``url`` with every credential hidden, for messages, logs, reports and stored files.

    The user info becomes ``***@`` (or goes, with ``drop_user_info``, for a URL to keep) and
    each credential-like query value becomes ``***``; the rest stays as written, so the URL
    still says where it points. Works on text no URL parser accepts, too.
    """
    shown = url
    for start, end in reversed(_secret_spans(url)):
        shown = shown[:start] + MASK + shown[end:]
    bounds = _authority_bounds(shown)
    if bounds is None or _user_info(shown) is None:
        return shown
    start, end = bounds
    host = shown[start:end].rsplit("@", 1)[1]
    return f"{shown[:start]}{'' if drop_user_info else MASK + '@'}{host}{shown[end:]}"


def redact_text(text: str, *urls: str | None, secrets: Iterable[str] = ()) -> str:
    """``text`` (an error message, a line to print) with each URL in ``urls`` shown redacted
    wherever it appears, and every secret in them or in ``secrets`` masked wherever it appears
    on its own (a library's message quotes a path and query, or a host with its user info).
    Credential-like query values of any other URL in ``text`` are masked too.

    A secret given with surrounding white space is masked with and without it.
    """
    given = [url for url in urls if url]
    for shown in sorted({form for url in given for form in (url, url.rstrip("/"))}, key=len)[::-1]:
        text = text.replace(shown, redacted_url(shown))
    needles = {found for url in given for found in url_secrets(url)}
    needles |= {variant for secret in secrets for variant in (secret, secret.strip())}
    for needle in sorted(needles - {""}, key=lambda needle: (-len(needle), needle)):
        text = text.replace(needle, MASK)
    return _QUOTED_PARAMETER.sub(_masked_parameter, text)


def _masked_parameter(found: re.Match[str]) -> str:
    name, value = found.group("name", "value")
    if not value or value.startswith(MASK) or not is_credential_name(name):
        return found.group(0)  # nothing to hide, or hidden already (what follows is text)
    return f"{name}={MASK}"


class _RedactingFilter(logging.Filter):
    """Masks credential-like query values in every record of the logger it is added to."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = redact_text(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


_LOG_FILTER = _RedactingFilter()


def hide_url_secrets_in_logs(*names: str) -> None:
    """Mask credential-like query values in every record of the HTTP libraries' loggers (they
    log ``"POST /hook?token=... HTTP/1.1" 200``) and of the loggers ``names``, whatever the
    handler. Safe to call any number of times."""
    for name in (*_LIBRARY_LOGGERS, *names):
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)
