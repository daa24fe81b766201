"""Webhook URLs: what counts as usable, and how to show one without its password."""

from __future__ import annotations

from urllib.parse import urlsplit

EXAMPLE_WEBHOOK_URL = "https://example.com/api/mlflow/registered"


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


def url_credentials(url: str) -> str | None:
    """The user-info of ``url`` (``user:password`` or a bare token), or ``None``."""
    bounds = _authority_bounds(url)
    authority = url[bounds[0] : bounds[1]] if bounds else ""
    return authority.rsplit("@", 1)[0] if "@" in authority else None


def url_secret(url: str) -> str | None:
    """The secret part of ``url``'s user-info: the password, or a bare user that is a token."""
    credentials = url_credentials(url)
    if credentials is None:
        return None
    user, _, password = credentials.partition(":")
    return password or user or None


def redacted_url(url: str) -> str:
    """``url`` with its user-info (``user:password@`` or a bare token ``user@``) shown as
    ``***@``, for messages, logs and reports. Works on text no URL parser accepts, too."""
    bounds = _authority_bounds(url)
    if bounds is None or url_credentials(url) is None:
        return url
    start, end = bounds
    host = url[start:end].rsplit("@", 1)[1]
    return f"{url[:start]}***@{host}{url[end:]}"
