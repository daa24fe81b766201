"""Read a request's raw body soundly, for every server here that takes a POST.

The length must be clear (RFC 9112 section 6.3: one Content-Length, or chunked, never both),
a body over the limit is refused without reading it all, and a body cut short is told apart
from a complete one. What the server answers is its own: this says only what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import parse_set_header
from werkzeug.wsgi import get_input_stream

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.wrappers import Request


@dataclass(frozen=True)
class UnreadableBody:
    """Why a request's body was not read: over the limit, or framed unsoundly (``why``)."""

    too_large: bool
    why: str = ""


def read_request_body(request: Request, limit: int) -> bytes | UnreadableBody:
    """The raw body, or why it was not read.

    Framing is judged before reading; a declared Content-Length over the limit is refused
    before reading too; a chunked or lying body is read at most one byte past the limit.
    """
    problem = _framing_problem(request.environ)
    if problem is not None:
        return UnreadableBody(too_large=False, why=problem)
    declared = request.content_length
    if declared is not None and declared > limit:
        return UnreadableBody(too_large=True)
    # One byte past the limit tells a body exactly at the limit from one over it.
    stream = get_input_stream(request.environ, max_content_length=limit + 1)
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= limit:
            chunk = stream.read(min(64 * 1024, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except ClientDisconnected:  # werkzeug's word for a body cut short or badly chunked
        return UnreadableBody(too_large=False, why=_cut_short(declared))
    return b"".join(chunks) if size <= limit else UnreadableBody(too_large=True)


def _framing_problem(environ: WSGIEnvironment) -> str | None:
    """Why the body's length is unclear (RFC 9112 section 6.3), or ``None`` when it is clear.

    Two lengths are how requests are smuggled past a proxy, so neither is guessed at.
    """
    length = environ.get("CONTENT_LENGTH") or None
    if length is None:
        return None
    if "chunked" in parse_set_header(environ.get("HTTP_TRANSFER_ENCODING")):
        return (
            "the request has both Transfer-Encoding: chunked and a Content-Length, so its "
            "length is ambiguous; send one of them, not both"
        )
    if not (length.isascii() and length.strip(" \t").isdigit()):
        return (
            f"the Content-Length {length[:40]!r} is not one number of bytes (two Content-Length "
            "headers are joined by a comma); send exactly one Content-Length, the body's size"
        )
    return None


def _cut_short(declared: int | None) -> str:
    """What went wrong with a body that could not be read to its end."""
    if declared is None:
        return (
            "the chunked body broke off or has a malformed chunk; send each chunk as its size "
            "in hex, CRLF, its bytes, CRLF, and end with a 0-size chunk"
        )
    return (
        f"the body ended (the connection closed or went silent) before the {declared} bytes "
        "its Content-Length declares; send the whole body, with a Content-Length of its size"
    )
