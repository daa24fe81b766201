"""Webhook URLs: what counts as usable, and how to show one without its password."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

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
    """``url`` with any password in it replaced by ``***``, for messages and reports."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password is None:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
