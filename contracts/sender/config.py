"""Where the sender's settings come from: arguments, then the environment, then ``./.env``.

An explicit argument wins; otherwise the process environment; otherwise a ``.env`` file in the
current directory, read without interpolation so that a ``$`` in a secret stays a ``$``. The
webhook URL and secret are read as the SDK reads them: ``HOKUSAI_SITE_WEBHOOK_URL``, else
``WEBHOOK_URL``; ``HOKUSAI_SITE_WEBHOOK_SECRET``, else ``WEBHOOK_SECRET`` (each name looked up
in the environment, then in ``.env``, before the next name).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from contracts.urls import EXAMPLE_WEBHOOK_URL, http_url_problem, redacted_url

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
WEBHOOK_URL_ENV = "WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "WEBHOOK_SECRET"
WEBHOOK_URL_ENVS = ("HOKUSAI_SITE_WEBHOOK_URL", WEBHOOK_URL_ENV)
"""Where the webhook URL is read, first found wins (the SDK's order)."""
WEBHOOK_SECRET_ENVS = ("HOKUSAI_SITE_WEBHOOK_SECRET", WEBHOOK_SECRET_ENV)
"""Where the webhook secret is read, first found wins (the SDK's order)."""
URL_VARIABLES = " or ".join(WEBHOOK_URL_ENVS)
SECRET_VARIABLES = " or ".join(WEBHOOK_SECRET_ENVS)
OUTBOX_ENV = "HOKUSAI_OUTBOX"
DOTENV_FILE = ".env"
DEFAULT_OUTBOX = Path("~/.hokusai/outbox.sqlite3")

_log = logging.getLogger("contracts.sender")


class ConfigurationError(ValueError):
    """A setting is missing or unusable; the message names it and how to set it."""


def read_dotenv(path: Path | None = None) -> dict[str, str]:
    """The variables of a ``.env`` file (default: the current directory's); empty if absent."""
    path = path or Path.cwd() / DOTENV_FILE
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    values = dotenv_values(path, interpolate=False, encoding="utf-8")
    return {name: value for name, value in values.items() if value is not None}


class SettingSource:
    """Looks a variable up in the environment first, then in the ``.env`` values."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, dotenv: Mapping[str, str] | None = None
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._dotenv = read_dotenv() if dotenv is None else dotenv

    def get(self, name: str) -> str | None:
        """The value of ``name``, or ``None`` when neither place sets it (or it is blank)."""
        for place in (self._environ, self._dotenv):
            value = place.get(name)
            if value is not None and value.strip():
                return value
        return None

    def first(self, names: Sequence[str]) -> str | None:
        """The value of the first of ``names`` that is set (see :meth:`get`), else ``None``."""
        for name in names:
            value = self.get(name)
            if value is not None:
                return value
        return None


@dataclass(frozen=True)
class SenderSettings:
    """The resolved settings; ``repr`` shows neither the secret nor a password in a URL."""

    tracking_uri: str | None
    webhook_url: str | None
    webhook_secret: str | None
    outbox_path: Path

    def __repr__(self) -> str:
        def shown(url: str | None) -> str | None:
            return None if url is None else redacted_url(url)

        return (
            f"SenderSettings(tracking_uri={shown(self.tracking_uri)!r}, "
            f"webhook_url={shown(self.webhook_url)!r}, "
            f"webhook_secret={'***' if self.webhook_secret else None!r}, "
            f"outbox_path={self.outbox_path!r})"
        )


def resolve_settings(
    tracking_uri: str | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    outbox_path: str | os.PathLike[str] | None = None,
    *,
    source: SettingSource | None = None,
) -> SenderSettings:
    """Fill every setting not given from the environment or ``.env``; check the webhook URL."""
    source = source or SettingSource()
    url = webhook_url or source.first(WEBHOOK_URL_ENVS)
    if url is not None:
        check_webhook_url(url)
    secret = webhook_secret if webhook_secret else source.first(WEBHOOK_SECRET_ENVS)
    if secret is not None and secret != secret.strip():
        _log.warning(
            "the webhook secret has whitespace or a newline around it; it is used exactly as "
            "set, so the receiver must hold the same bytes (usually: strip it)"
        )
    outbox = outbox_path or source.get(OUTBOX_ENV) or DEFAULT_OUTBOX
    return SenderSettings(
        tracking_uri=tracking_uri or source.get(TRACKING_URI_ENV),
        webhook_url=url,
        webhook_secret=secret or None,
        outbox_path=Path(outbox).expanduser(),
    )


def check_webhook_url(url: str) -> str:
    """Return ``url`` when it is an absolute http(s) URL, else raise :class:`ConfigurationError`."""
    problem = http_url_problem(url)
    if problem is not None:
        raise ConfigurationError(
            f"webhook URL {redacted_url(url)!r} is not an absolute http(s) URL ({problem}); set "
            f"{URL_VARIABLES} to something like {EXAMPLE_WEBHOOK_URL}"
        )
    return url
