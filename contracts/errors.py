"""The one exception type a refused delivery raises, whichever check refused it.

:func:`contracts.receive` checks the signature, then the body; callers catch
:class:`ReceiveError` once and read ``reason``: a :class:`~contracts.FailureReason` from the
signature (:class:`~contracts.SignatureError`) or a :class:`~contracts.PayloadProblem` from the
body (:class:`~contracts.PayloadError`), each the stable code a receiver answers with.
"""

from __future__ import annotations


class ReceiveError(Exception):
    """A delivery was refused; ``reason`` is its stable, language-neutral code."""

    reason: str
