"""The receiver under test: where it is, the secret it shares, the tokens it holds.

``check-receiver``, ``send-test`` and ``make contract-test`` all judge one receiver through this
one value. Its ``repr`` never shows the secret, nor the credentials a URL may carry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.conformance.answers import state_url_for
from contracts.tokens import normalize_token_id
from contracts.urls import MASK, redacted_url

DEFAULT_SECRET_ENV = "WEBHOOK_SECRET"
DEFAULT_SETTLE_SECONDS = 2.0
"""How long a state read waits for a registration a handler does after answering (a queue)."""


@dataclass(frozen=True, repr=False)
class Receiver:
    """A webhook receiver to judge.

    ``token`` exists on the receiver (ideally still DRAFT); ``spare_tokens`` are further DRAFT
    tokens for the checks that need a transition of their own; ``state_url`` is a template
    such as ``https://host/api/tokens/{token_id}`` answering JSON with the token's ``status``.
    ``timeout`` bounds each request, its answer included. ``secret_env`` names the variable
    the secret came from, for the commands suggested to the user. ``settle`` is how long the
    state URL is read again, after an acceptance, before the token is said not to be
    REGISTERED (a handler may queue the work and answer first). ``also_urls`` are further URLs
    of the same handler (the other contract path, say) where a shorter set of checks runs too.
    ``headers`` go with every request to the receiver (an ``Authorization`` a staging gateway
    asks for, say): their values are secrets, so only their names are ever shown.
    Token ids are upper-cased.
    """

    url: str
    secret: str
    token: str
    spare_tokens: tuple[str, ...] = ()
    state_url: str | None = None
    timeout: float = 10.0
    secret_env: str = DEFAULT_SECRET_ENV
    settle: float = DEFAULT_SETTLE_SECONDS
    also_urls: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Frozen, so the normalized ids are set the way dataclasses set fields.
        object.__setattr__(self, "token", normalize_token_id(self.token))
        spares: Iterable[str] = self.spare_tokens
        object.__setattr__(self, "spare_tokens", tuple(normalize_token_id(s) for s in spares))
        object.__setattr__(self, "also_urls", tuple(self.also_urls))
        object.__setattr__(self, "headers", tuple((n, v) for n, v in self.headers))

    def __repr__(self) -> str:
        state_url = redacted_url(self.state_url) if self.state_url else None
        also = tuple(redacted_url(url) for url in self.also_urls)
        return (
            f"Receiver(url={redacted_url(self.url)!r}, secret={MASK!r}, token={self.token!r}, "
            f"spare_tokens={self.spare_tokens!r}, state_url={state_url!r}, "
            f"timeout={self.timeout!r}, secret_env={self.secret_env!r}, settle={self.settle!r}, "
            f"also_urls={also!r}, headers={self.header_names!r})"
        )

    @property
    def header_names(self) -> tuple[str, ...]:
        """The names of the headers sent with every request: what may be shown of them."""
        return tuple(name for name, _ in self.headers)

    @property
    def tokens(self) -> tuple[str, ...]:
        """The token under test, then the spare tokens."""
        return (self.token, *self.spare_tokens)

    def state_url_for(self, token: str) -> str | None:
        """Where ``token``'s state is read, or ``None`` without a state URL."""
        return state_url_for(self.state_url, token) if self.state_url else None
