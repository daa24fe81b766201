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


def redacted_url(url: str) -> str:
    """``url`` with its user-info (``user:password@`` or a bare token ``user@``) shown as
    ``***@``, for messages, logs and reports. Works on text no URL parser accepts, too."""
    start = url.find("//")
    if start < 0:
        return url
    start += 2
    ends = [index for index in (url.find(mark, start) for mark in "/?#") if index >= 0]
    end = min(ends, default=len(url))
    authority = url[start:end]
    if "@" not in authority:
        return url
    return f"{url[:start]}***@{authority.rsplit('@', 1)[1]}{url[end:]}"
