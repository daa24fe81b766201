"""Register a model version in MLflow for a token, then tell the website.

``ModelRegistry.register_tokenized_model`` checks every input before MLflow is touched (with
MLflow's own rules for names and tags), makes sure the tracking server answers, registers the
version with the token's tags, builds the payload from what MLflow returned, and sends it
through the outbox. The registration stands whatever happens to the notification.

The payload is the nested v2 body by default, as the SDK sends it since 2026-04-30, with
``model.api_schema`` derived from the signature MLflow holds for the version; the flat v1 body
on request (``payload_shape=Shape.V1``, or ``shape=`` for one registration).
"""

from __future__ import annotations

import math
import os
import posixpath
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from contracts.payload import (
    METRIC_TAG,
    SDK_TAGS,
    TOKEN_TAG,
    VALUE_TAG,
    PayloadError,
    Shape,
    build_model_payload,
    build_payload,
    payload_shape,
    run_id_from_model_uri,
)
from contracts.sender.config import (
    TRACKING_URI_ENV,
    ConfigurationError,
    SenderSettings,
    resolve_settings,
)
from contracts.sender.delivery import DeliveryPolicy, NotificationOutcome
from contracts.sender.notify import Notifier, ResendResult
from contracts.sender.outbox import Outbox
from contracts.sender.signature import version_api_schema
from contracts.support.http import FailureKind, describe_connection_failure
from contracts.tokens import normalize_token_id
from contracts.urls import redact_text, redacted_url

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.exceptions import MlflowException

RESERVED_TAGS = SDK_TAGS
DEFAULT_AWAIT_READY_SECONDS = 300
TRACKING_PROBE_SECONDS = 5.0
_LOGGED_MODEL_URI = re.compile(r"^models:/(m-[0-9a-f]+)/?$")
_TAG_VALUE_TYPES = "strings, numbers or booleans (MLflow stores tags as strings)"


class NotifyMode(str, Enum):
    """What a failed notification means to the caller of ``register_tokenized_model``."""

    BEST_EFFORT = "best-effort"
    """Never raise because of the webhook; the outbox keeps what was not delivered."""
    REQUIRED = "required"
    """Raise :class:`NotificationError` (carrying the registration) when not delivered."""


class RegistrationInputError(ValueError):
    """An argument of ``register_tokenized_model`` is invalid; nothing was registered."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class MlflowRegistrationError(RuntimeError):
    """MLflow refused or failed the registration; no notification was sent."""


class TrackingServerUnreachableError(MlflowRegistrationError):
    """The MLflow tracking server did not answer; nothing was registered or sent."""


class ModelVersionNotFoundError(LookupError):
    """No model version in MLflow carries the token (or it lacks the tags to rebuild a payload)."""


@dataclass(frozen=True)
class Registration:
    """A model version registered in MLflow, and what happened to its notification."""

    token_id: str
    model_name: str
    model_version: str
    run_id: str | None
    model_uri: str
    tags: Mapping[str, str]
    payload: Mapping[str, Any]
    """The body as built, in its shape (v1 or v2); the one sent differs only in its timestamp."""
    notification: NotificationOutcome

    @property
    def shape(self) -> Shape:
        """The shape of the body sent (or waiting in the outbox)."""
        return payload_shape(self.payload)


class NotificationError(RuntimeError):
    """Raised in ``notify="required"`` mode: registered in MLflow, but the website was not told.

    ``registration`` holds the registration; the notification waits in the outbox.
    """

    def __init__(self, registration: Registration) -> None:
        super().__init__(
            f"model {registration.model_name!r} version {registration.model_version} is "
            f"registered in MLflow for token {registration.token_id}, but the website was not "
            f"notified: {registration.notification.message}"
        )
        self.registration = registration


@dataclass(frozen=True)
class _Request:
    token_id: str
    model_uri: str
    model_name: str
    metric_name: str
    baseline_value: float | int
    tags: dict[str, str]
    run_id: str | None
    model_id: str | None


class ModelRegistry:
    """The SDK side: MLflow registration plus the signed ``model_registered`` webhook.

    Every setting not given falls back to the environment (``MLFLOW_TRACKING_URI``,
    ``HOKUSAI_SITE_WEBHOOK_URL`` else ``WEBHOOK_URL``, ``HOKUSAI_SITE_WEBHOOK_SECRET`` else
    ``WEBHOOK_SECRET``, ``HOKUSAI_OUTBOX``), then to ``./.env``. ``payload_shape`` is the body
    sent: :attr:`~contracts.Shape.V2` (nested, as the SDK sends it; the default) or
    :attr:`~contracts.Shape.V1` (flat).
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        *,
        delivery: DeliveryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        outbox_path: str | os.PathLike[str] | None = None,
        notify: NotifyMode | str = NotifyMode.BEST_EFFORT,
        await_ready_seconds: int = DEFAULT_AWAIT_READY_SECONDS,
        payload_shape: Shape | str = Shape.V2,
    ) -> None:
        self.settings: SenderSettings = resolve_settings(
            tracking_uri, webhook_url, webhook_secret, outbox_path
        )
        if self.settings.tracking_uri is None:
            raise ConfigurationError(
                "no MLflow tracking server configured; pass tracking_uri= or set "
                f"{TRACKING_URI_ENV} (environment or .env)"
            )
        self.tracking_uri: str = self.settings.tracking_uri
        self.notify_mode = _notify_mode(notify)
        shape = _shape(payload_shape)
        if shape is None:
            raise ConfigurationError(_not_a_shape("payload_shape", payload_shape))
        self.payload_shape = shape
        self.await_ready_seconds = await_ready_seconds
        self.outbox = Outbox(self.settings.outbox_path)
        self._notifier = Notifier(
            self.outbox,
            self.settings.webhook_url,
            self.settings.webhook_secret,
            delivery,
            sleep=sleep,
            rng=rng,
        )
        self._client: MlflowClient | None = None

    def __repr__(self) -> str:
        return (
            f"ModelRegistry({self.settings!r}, notify={self.notify_mode.value!r}, "
            f"payload_shape={self.payload_shape.value!r})"
        )

    @property
    def client(self) -> MlflowClient:
        """The MLflow client bound to this registry's tracking server (no global state)."""
        if self._client is None:
            from mlflow import MlflowClient

            uri = self.tracking_uri
            self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return self._client

    def mlflow_words(self, error: MlflowException) -> str:
        """MLflow's error message, with the tracking URI's credentials masked."""
        return redact_text(error.message, self.tracking_uri)

    def close(self) -> None:
        """Close pooled webhook connections."""
        self._notifier.close()

    def register_tokenized_model(
        self,
        model_uri: str,
        model_name: str,
        token_id: str,
        metric_name: str,
        baseline_value: float,
        additional_tags: Mapping[str, Any] | None = None,
        *,
        shape: Shape | str | None = None,
    ) -> Registration:
        """Register ``model_uri`` as a new version of ``model_name`` for ``token_id``; notify.

        The website is sent the registry's ``payload_shape`` unless ``shape`` names another.

        Raises :class:`contracts.TokenIdError` or :class:`RegistrationInputError` for bad input
        (before MLflow is touched), :class:`MlflowRegistrationError` when MLflow fails (its
        subclass :class:`TrackingServerUnreachableError` when the server does not answer), and,
        in ``notify="required"`` mode only, :class:`NotificationError` when the website was not
        told. In the default best-effort mode nothing about the webhook raises.
        """
        body_shape = self.payload_shape if shape is None else _shape(shape)
        if body_shape is None:
            raise RegistrationInputError("shape", _not_a_shape("shape", shape))
        request = _checked_request(
            model_uri, model_name, token_id, metric_name, baseline_value, additional_tags
        )
        check_tracking_server(self.tracking_uri)
        version = self._create_version(request)
        run_id = (version.run_id or None) if request.run_id else None
        tags = {str(key): str(value) for key, value in (version.tags or request.tags).items()}
        payload = version_payload(
            self.client,
            version,
            body_shape,
            _Reported(request.token_id, request.metric_name, request.baseline_value, run_id, tags),
        )
        registration = Registration(
            token_id=request.token_id,
            model_name=version.name,
            model_version=str(version.version),
            run_id=run_id,
            model_uri=request.model_uri,
            tags=tags,
            payload=payload,
            notification=self._notifier.notify(payload),
        )
        if self.notify_mode is NotifyMode.REQUIRED and not registration.notification.delivered:
            raise NotificationError(registration)
        return registration

    def resend_pending(
        self, url: str | None = None, token_id: str | None = None
    ) -> list[ResendResult]:
        """Deliver every notification the outbox still holds (never one already delivered)."""
        token = normalize_token_id(token_id) if token_id is not None else None
        return self._notifier.resend_pending(url, token)

    def resend_from_mlflow(self, token_id: str, model_name: str | None = None) -> ResendResult:
        """Rebuild the payload of the token's latest model version from MLflow; send it.

        For versions registered before the webhook existed (their token stuck in DRAFT). The
        body has the registry's ``payload_shape``; a v2 body's ``api_schema`` comes from the
        version's signature, as at registration.
        """
        check_tracking_server(self.tracking_uri)
        version = find_token_version(self.client, token_id, model_name)
        payload = payload_from_version(self.client, version, self.payload_shape)
        outcome = self._notifier.notify(payload)
        return ResendResult(
            normalize_token_id(token_id), version.name, str(version.version), outcome
        )

    def _create_version(self, request: _Request) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        created = False
        try:
            created = self._ensure_registered_model(request.model_name)
            version = self.client.create_model_version(
                request.model_name,
                request.model_uri,
                request.run_id,
                tags=request.tags,
                await_creation_for=self.await_ready_seconds,
                model_id=request.model_id,
            )
        except MlflowException as error:
            if created:
                self._remove_if_empty(request.model_name)
            raise MlflowRegistrationError(
                f"MLflow at {redacted_url(self.tracking_uri)} did not register "
                f"{request.model_uri} as {request.model_name!r}: {self.mlflow_words(error)}"
            ) from error
        if version.status != "READY":
            raise MlflowRegistrationError(
                f"MLflow created {request.model_name!r} version {version.version} but it is "
                f"{version.status} ({version.status_message or 'no message'}), not READY; "
                "no notification was sent"
            )
        return version

    def _ensure_registered_model(self, name: str) -> bool:
        """Create the registered model unless it exists; True when this call created it."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(name)
        except MlflowException as error:
            if error.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
            return False
        return True

    def _remove_if_empty(self, name: str) -> None:
        """Delete a registered model this call created, unless a version landed in it since."""
        from mlflow.exceptions import MlflowException

        try:
            if not self.client.get_registered_model(name).latest_versions:
                self.client.delete_registered_model(name)
        except MlflowException:
            pass  # the error being raised matters more than an empty model left behind


def check_tracking_server(tracking_uri: str, timeout: float = TRACKING_PROBE_SECONDS) -> None:
    """Raise :class:`TrackingServerUnreachableError` unless an http(s) server answers in time.

    MLflow's client retries an unreachable server for minutes without a word; this asks
    ``/health`` once. Other URIs (``file:``, ``sqlite:``, ``databricks``...) are not probed.
    """
    if urlsplit(tracking_uri).scheme not in ("http", "https"):
        return
    try:
        answer = requests.get(
            tracking_uri.rstrip("/") + "/health", timeout=timeout, allow_redirects=False
        )
        answer.close()
    except requests.RequestException as error:
        failure = describe_connection_failure(error)
        timed_out = failure.kind is FailureKind.TIMEOUT
        why = f"no answer within {timeout:g} s" if timed_out else failure.words
    else:
        if answer.status_code < 500:
            return
        why = f"its /health answered {answer.status_code}"
    raise TrackingServerUnreachableError(
        f"MLflow at {redacted_url(tracking_uri)} is not reachable: {why}; check --tracking-uri, "
        f"tracking_uri= or {TRACKING_URI_ENV}"
    )


# --- input checks ---------------------------------------------------------------------------


def _shape(value: Shape | str) -> Shape | None:
    """``value`` as a :class:`Shape`; ``None`` when it names none."""
    try:
        return Shape(value)
    except ValueError:
        return None


def _not_a_shape(parameter: str, value: object) -> str:
    choices = " or ".join(repr(shape.value) for shape in Shape)
    return f"{parameter}={value!r} is not a body shape; pass {choices} (or contracts.Shape)"


def _notify_mode(value: NotifyMode | str) -> NotifyMode:
    try:
        return NotifyMode(value)
    except ValueError:
        choices = ", ".join(repr(mode.value) for mode in NotifyMode)
        raise ConfigurationError(f"notify={value!r} is not one of {choices}") from None


def _checked_request(
    model_uri: object,
    model_name: object,
    token_id: object,
    metric_name: object,
    baseline_value: object,
    additional_tags: object,
) -> _Request:
    token = normalize_token_id(token_id)  # type: ignore[arg-type]  # checks the type itself
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise RegistrationInputError(
            "model_uri",
            f"model_uri must be a non-empty string such as runs:/<run_id>/model, got {model_uri!r}",
        )
    tags = _version_tags(token, metric_name, baseline_value, additional_tags)
    run_id = run_id_from_model_uri(model_uri)
    try:
        build_payload(
            token_id=token,
            model_name=model_name,  # type: ignore[arg-type]
            model_version="1",
            metric_name=metric_name,  # type: ignore[arg-type]
            baseline_value=baseline_value,  # type: ignore[arg-type]
            mlflow_run_id=run_id,
            tags=tags,
        )
    except PayloadError as error:
        raise _input_error(error) from None
    _check_mlflow_rules(model_name, tags)  # type: ignore[arg-type]  # a str: build_payload said so
    logged_model = _LOGGED_MODEL_URI.match(model_uri)
    return _Request(
        token_id=token,
        model_uri=model_uri,
        model_name=model_name,  # type: ignore[arg-type]
        metric_name=metric_name,  # type: ignore[arg-type]
        baseline_value=baseline_value,  # type: ignore[arg-type]
        tags=tags,
        run_id=run_id,
        model_id=logged_model.group(1) if logged_model else None,
    )


_PARAMETER_HINTS = {
    "model_name": "pass the registered model's name, a non-empty string",
    "metric_name": "pass the benchmark metric's name, a non-empty string",
    "baseline_value": "pass a finite number (int or float; not a bool, NaN or infinity)",
    "mlflow_run_id": "pass a model URI such as runs:/<run_id>/model",
}


def _input_error(error: PayloadError) -> RegistrationInputError:
    violation = error.violations[0]
    field = violation.path.removeprefix("$.").split(".")[0].split("[")[0]
    parameter = "model_uri" if field == "mlflow_run_id" else field
    hint = _PARAMETER_HINTS.get(field, "see the contract's schema")
    return RegistrationInputError(parameter, f"{parameter} is invalid: {violation.message}; {hint}")


def _tag_text(value: object) -> str:
    """A tag value as MLflow stores it; booleans spelled as JSON spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _version_tags(
    token: str, metric_name: object, baseline_value: object, additional_tags: object
) -> dict[str, str]:
    tags = {
        TOKEN_TAG: token,
        METRIC_TAG: _tag_text(metric_name),
        VALUE_TAG: _tag_text(baseline_value),
    }
    if additional_tags is None:
        return tags
    if not isinstance(additional_tags, Mapping):
        raise RegistrationInputError(
            "additional_tags",
            f"additional_tags must be a mapping of tag names to {_TAG_VALUE_TYPES}, got "
            f"{type(additional_tags).__name__}",
        )
    for key, value in additional_tags.items():
        _check_tag(key, value)
        tags[key] = _tag_text(value)
    return tags


def _check_tag(key: object, value: object) -> None:
    if not isinstance(key, str) or not key.strip():
        raise RegistrationInputError(
            "additional_tags",
            f"additional_tags has an invalid tag name {key!r}; tag names are non-empty strings",
        )
    if key in RESERVED_TAGS:
        raise RegistrationInputError(
            "additional_tags",
            f"additional_tags[{key!r}] is set from the token, metric and value arguments; "
            "drop it from additional_tags",
        )
    scalar = isinstance(value, (str, int, float))
    if not scalar or (isinstance(value, float) and not math.isfinite(value)):
        raise RegistrationInputError(
            "additional_tags",
            f"additional_tags[{key!r}] is {value!r}; tag values must be {_TAG_VALUE_TYPES}, "
            "and numbers finite",
        )


_TAG_PARAMETERS = {TOKEN_TAG: "token_id", METRIC_TAG: "metric_name", VALUE_TAG: "baseline_value"}


def _check_mlflow_rules(model_name: str, tags: Mapping[str, str]) -> None:
    """MLflow's rules for the model name and the version's tags, applied up front.

    The server applies the same rules, but only after the registered model exists.
    """
    problem = mlflow_name_problem(model_name)
    if problem is not None:
        raise RegistrationInputError(
            "model_name", f"model_name {model_name!r} is not accepted by MLflow: {problem}"
        )
    for key, value in tags.items():
        problem = mlflow_tag_problem(key, value)
        if problem is not None:
            parameter = _TAG_PARAMETERS.get(key, "additional_tags")
            where = parameter if key in _TAG_PARAMETERS else f"additional_tags[{key!r}]"
            raise RegistrationInputError(
                parameter, f"{where} is not accepted by MLflow as a model version tag: {problem}"
            )


MLFLOW_TAG_KEY_LIMIT = 250
"""Characters in a tag name: MLflow documents that every backend store takes this many."""
MLFLOW_TAG_VALUE_LIMIT = 100_000
"""Characters in a model version tag's value that MLflow's tracking server takes (its
documentation promises at least 5,000 on every backend and leaves the rest to the backend)."""
_MLFLOW_TAG_KEY = re.compile(r"[\w/.\- :]+")
"""Letters, digits and ``_``, then ``/ . - :`` and space: MLflow's documented characters, with
the colon its server takes (except on Windows)."""


def mlflow_name_problem(name: str) -> str | None:
    """Why MLflow refuses ``name`` for a registered model; ``None`` when it takes it.

    MLflow's own checks are private functions, so its rules are written out here; a test holds
    them against a real server.
    """
    if not name.strip():
        return "a name must not be blank"
    if "/" in name or ":" in name:
        return "a name cannot contain '/' or ':'"
    if _reads_as_another_path(name):
        return "a name cannot be '.' or start with '..' (MLflow may store it as a file)"
    return None


def mlflow_tag_problem(key: str, value: str) -> str | None:
    """Why MLflow refuses the model version tag ``key=value``; ``None`` when it takes it."""
    if not _MLFLOW_TAG_KEY.fullmatch(key):
        return (
            "tag names may only contain letters, digits, underscores (_), dashes (-), "
            "periods (.), spaces, colons (:) and slashes (/)"
        )
    if _reads_as_another_path(key):
        return (
            "a tag name must stay the same when read as a path: no '.' or '..' parts, and no "
            "leading, trailing or doubled '/'"
        )
    if len(key) > MLFLOW_TAG_KEY_LIMIT:
        return f"tag names are at most {MLFLOW_TAG_KEY_LIMIT} characters, this one has {len(key)}"
    if len(value) > MLFLOW_TAG_VALUE_LIMIT:
        return (
            f"tag values are at most {MLFLOW_TAG_VALUE_LIMIT} characters, this one has {len(value)}"
        )
    return None


def _reads_as_another_path(name: str) -> bool:
    """MLflow may keep names as file paths, so it refuses one that resolves to another."""
    normal = posixpath.normpath(name)
    return normal != name or normal == "." or normal.startswith(("..", "/"))


# --- rebuilding a payload from MLflow -------------------------------------------------------


def find_token_version(
    client: MlflowClient, token_id: str, model_name: str | None = None
) -> ModelVersion:
    """The latest model version tagged with ``token_id`` (any case), optionally of one model."""
    token = normalize_token_id(token_id)
    matches = [
        version
        for version in search_versions(client, f"tags.{TOKEN_TAG} ILIKE '{token}'")
        if str(version.tags.get(TOKEN_TAG, "")).upper() == token
        and (model_name is None or version.name == model_name)
    ]
    if not matches:
        where = f" of model {model_name!r}" if model_name else ""
        raise ModelVersionNotFoundError(
            f"no model version{where} in MLflow carries the tag {TOKEN_TAG}={token}; check "
            "the token id, the model name and the tracking URI"
        )
    return max(matches, key=lambda v: (int(v.creation_timestamp or 0), int(v.version)))


def search_versions(client: MlflowClient, filter_string: str) -> list[ModelVersion]:
    """Every model version matching ``filter_string``, all pages of the search."""
    found: list[ModelVersion] = []
    page_token = None
    while True:
        page = client.search_model_versions(filter_string, page_token=page_token)
        found.extend(page)
        page_token = page.token
        if not page_token:
            return found


@dataclass(frozen=True)
class _Reported:
    """What the SDK reports of a registration besides what MLflow holds for the version."""

    token_id: str
    metric_name: str
    baseline_value: float | int
    run_id: str | None
    tags: Mapping[str, str]


def version_payload(
    client: MlflowClient, version: ModelVersion, shape: Shape, reported: _Reported
) -> dict[str, Any]:
    """The payload of ``version`` in ``shape``: name and version as MLflow returned them.

    v2 carries the metric as ``model.primary_metric`` and ``model.api_schema`` from the
    version's signature in MLflow (left out when it has none to give); v1 the metric, the
    baseline value and the tags. Raises ``TokenIdError`` or ``PayloadError`` on bad values.
    """
    if shape is Shape.V1:
        return build_payload(
            token_id=reported.token_id,
            model_name=version.name,
            model_version=str(version.version),
            mlflow_run_id=reported.run_id,
            metric_name=reported.metric_name,
            baseline_value=reported.baseline_value,
            tags=reported.tags,
        )
    return build_model_payload(
        token_id=reported.token_id,
        model_name=version.name,
        model_version=str(version.version),
        run_id=reported.run_id,
        primary_metric=reported.metric_name,
        api_schema=version_api_schema(client, version).api_schema,
    )


def payload_from_version(
    client: MlflowClient, version: ModelVersion, shape: Shape = Shape.V2
) -> dict[str, Any]:
    """The payload of a version in ``shape``, rebuilt from the tags it carries in MLflow."""
    tags = {str(key): str(value) for key, value in (version.tags or {}).items()}
    where = f"model {version.name!r} version {version.version}"
    missing = [tag for tag in RESERVED_TAGS if not tags.get(tag)]
    if missing:
        raise ModelVersionNotFoundError(
            f"{where} lacks the tag(s) {', '.join(missing)}, so its payload cannot be rebuilt; "
            "set them on the version in MLflow first"
        )
    try:
        reported = _Reported(
            tags[TOKEN_TAG],
            tags[METRIC_TAG],
            _number(tags[VALUE_TAG]),
            version.run_id or None,
            tags,
        )
        return version_payload(client, version, shape, reported)
    except ValueError as error:  # TokenIdError, PayloadError, an unreadable number
        raise ModelVersionNotFoundError(
            f"{where} has tags that do not make a valid payload: {error}"
        ) from None


def _number(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{VALUE_TAG}={text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{VALUE_TAG}={text!r} is not a finite number")
    return value
