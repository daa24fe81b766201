"""MLflow's own model-registry webhooks, pointed at the bridge: which events, and how to create,
list and test the webhook on a tracking server.

MLflow (3.3 and later) posts signed events from its tracking server; :data:`BRIDGE_EVENTS` are
the ones the bridge turns into the contract. Everything here talks to the server through
``MlflowClient`` (imported when a function runs) and raises an :class:`MlflowWebhookError`
whose message is one line saying what was wrong and what to do, never quoting a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from contracts.urls import http_url_problem, redact_text, redacted_url

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.webhook import Webhook, WebhookEvent
    from mlflow.exceptions import MlflowException

VERSION_CREATED: Final = "model_version.created"
"""A model version was created; ``data.tags`` holds the tags of the create call."""
VERSION_TAG_SET: Final = "model_version_tag.set"
"""A tag was set on a model version; ``data.key`` and ``data.value`` name it."""
BRIDGE_EVENTS: Final = (VERSION_CREATED, VERSION_TAG_SET)
"""The MLflow webhook events the bridge handles, as ``entity.action``: the one list of them."""
DEFAULT_WEBHOOK_NAME = "hokusai-bridge"
SECRET_ENV: Final = "MLFLOW_WEBHOOK_SECRET"
"""The environment variable both ``mlflow-webhook create`` and the bridge read the webhook's
secret from unless told another (``--secret-env``, ``--mlflow-secret-env``)."""
TEST_EVENT = VERSION_CREATED
"""The event MLflow's test delivery imitates."""
TEST_EVENT_MODEL: Final = "example_model"
"""The model name of every example payload MLflow's test delivery sends (with no token tag)."""
SCHEMES_SETTING = "MLFLOW_WEBHOOK_ALLOWED_SCHEMES"
"""The server setting naming the URL schemes a webhook may use (MLflow's default: https)."""
PRIVATE_IPS_SETTING = "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS"
"""The server setting that lets a webhook reach private and loopback addresses (default: no)."""
ENCRYPTION_KEY_SETTING = "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY"
"""The server setting holding the key its webhook secrets are encrypted with."""
PROBE_URL = "http://127.0.0.1:9/hokusai-loopback-probe"
ACTIVE: Final = "ACTIVE"
"""The status of a webhook MLflow sends events to."""
_BODY_SHOWN = 300
_PAGE_SIZE = 100
_SCHEME_REFUSED = re.compile(r"webhook URL scheme: '([^']*)'\. Allowed schemes are: ([^.]*)")
_PRIVATE_REFUSED = re.compile(r"non-public IP address\. '([^']*)' resolves to ([^ .]+(?:\.\d+)*)")
_PRIVATE_BLOCKED = re.compile(r"Webhook connection blocked: (\S+) is not a public IP address")
_SERVER_ERROR = re.compile(r"too many 500 error responses|error code 500 != 200")
_UNRESOLVED = re.compile(r"Cannot resolve Webhook URL hostname '([^']*)'")
_NO_ANSWER = (
    (re.compile(r"connection refused", re.IGNORECASE), "connection refused"),
    (re.compile(r"timed out|timeout", re.IGNORECASE), "timed out"),
    (
        re.compile(
            r"name resolution|name or service not known|nodename nor servname|getaddrinfo",
            re.IGNORECASE,
        ),
        "the host name does not resolve",
    ),
)
"""What MLflow's text says when its delivery got no answer, and the short words for it."""


class MlflowWebhookError(RuntimeError):
    """MLflow failed a webhook call; the message says what and what to do."""


class NotAWebhookServerError(MlflowWebhookError):
    """The tracking URI is not the http(s) address of an MLflow server with webhooks."""


class WebhookUrlRefusedError(MlflowWebhookError):
    """The MLflow server refused the webhook's URL: a server setting, or a URL to change."""


class WebhookNotFoundError(MlflowWebhookError):
    """No webhook has that id (or no webhook handles the bridge's events)."""


@dataclass(frozen=True)
class WebhookInfo:
    """A webhook as MLflow keeps it; ``url`` is shown without its credentials."""

    webhook_id: str
    name: str
    url: str
    events: tuple[str, ...]
    status: str

    @property
    def serves_bridge(self) -> bool:
        """True when it sends every event the bridge handles."""
        return set(BRIDGE_EVENTS) <= set(self.events)


@dataclass(frozen=True)
class WebhookTestOutcome:
    """What the webhook's receiver answered to MLflow's test delivery (MLflow's
    ``WebhookTestResult``, with the URL's credentials hidden in every text)."""

    webhook: WebhookInfo
    event: str
    success: bool
    response_status: int | None
    response_body: str | None
    error_message: str | None

    def words(self) -> str:
        """One line: what the receiver answered, and what that means."""
        where = f"webhook {self.webhook.webhook_id} ({self.webhook.name!r}, {self.webhook.url})"
        if self.response_status is None:
            why = self.error_message or "MLflow gave no reason"
            return f"{where}: MLflow could not deliver its test {self.event} event: {why}"
        body = " ".join((self.response_body or "").split())
        if len(body) > _BODY_SHOWN:
            body = body[:_BODY_SHOWN] + "..."
        answered = f"{where}: the receiver answered {self.response_status} {body or '(no body)'}"
        return f"{answered}; {_meaning(self.response_status)}"


def _meaning(status: int) -> str:
    if 200 <= status < 300:
        return (
            f"it takes MLflow's events (the test event names {TEST_EVENT_MODEL!r} and changes "
            "nothing)"
        )
    if status == 401:
        return (
            "it refused the signature: the bridge's --mlflow-secret-env must hold the secret "
            "this webhook was created with, and the two clocks must agree"
        )
    if status in (404, 405):
        return "nothing at that path takes webhooks: check the URL's path"
    if status == 400:
        return "it could not read MLflow's body: is it the bridge?"
    if status >= 500:
        return "it failed (MLflow retries a 500, 502, 503 or 504 three times): see its log"
    return "MLflow counts this as a failed delivery"


def bridge_client(tracking_uri: str) -> MlflowClient:
    """An ``MlflowClient`` for the tracking server at ``tracking_uri``, once it answers.

    Webhooks are sent by the server, so only its http(s) address will do; asking ``/health``
    first turns a server that is down into one line instead of minutes of retries.
    """
    if http_url_problem(tracking_uri) is not None:
        raise NotAWebhookServerError(
            f"tracking URI {redacted_url(tracking_uri)!r} is not an http(s) address: MLflow's "
            "webhooks are sent by its tracking server (a client writing to sqlite:/// or a "
            "folder sends none), so pass the server's URL, e.g. http://127.0.0.1:5000"
        )
    from mlflow import MlflowClient

    from contracts.sender.registry import check_tracking_server

    check_tracking_server(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def create_bridge_webhook(
    tracking_uri: str, url: str, secret: str, *, name: str = DEFAULT_WEBHOOK_NAME
) -> WebhookInfo:
    """Create an active webhook sending :data:`BRIDGE_EVENTS` to ``url``, signed with ``secret``.

    The server's webhook API is read first (without the secret), so a wrong URI never gets it.
    """
    client = bridge_client(tracking_uri)
    _all_webhooks(client, tracking_uri)
    from mlflow.exceptions import MlflowException

    try:
        webhook = client.create_webhook(
            name=name,
            url=url,
            events=[_event(name) for name in BRIDGE_EVENTS],
            description="Sends model-registry events to the Hokusai bridge",
            secret=secret,
        )
    except MlflowException as error:
        raise _translated(error, tracking_uri, url, secret) from None
    return _info(webhook)


def existing_bridge_webhook(tracking_uri: str, url: str) -> WebhookInfo | None:
    """The active webhook that already sends the bridge's events to ``url``, if there is one:
    a second would have MLflow send every event twice."""
    client = bridge_client(tracking_uri)
    for webhook in _all_webhooks(client, tracking_uri):
        info = _info(webhook)
        if webhook.url == url and info.serves_bridge and info.status == ACTIVE:
            return info
    return None


def list_webhooks(tracking_uri: str) -> list[WebhookInfo]:
    """Every webhook on the server, in MLflow's order."""
    return [_info(webhook) for webhook in _all_webhooks(bridge_client(tracking_uri), tracking_uri)]


def trigger_test_delivery(
    tracking_uri: str, webhook_id: str | None = None, *, event: str = TEST_EVENT
) -> WebhookTestOutcome:
    """Have MLflow send its canned ``event`` (an ``entity.action``) to a webhook and say what
    came back.

    Without ``webhook_id``, the one webhook that sends the bridge's events is tested.
    """
    client = bridge_client(tracking_uri)
    from mlflow.exceptions import MlflowException

    try:
        webhook = (
            client.get_webhook(webhook_id)
            if webhook_id
            else client.get_webhook(_the_bridge_webhook(client, tracking_uri).webhook_id)
        )
        result = client.test_webhook(webhook.webhook_id, _event(event))
    except MlflowException as error:
        raise _translated(error, tracking_uri) from None
    error_message = result.error_message and _delivery_error_words(
        redact_text(result.error_message, tracking_uri, webhook.url), tracking_uri, webhook.url
    )
    return WebhookTestOutcome(
        webhook=_info(webhook),
        event=event,
        success=bool(result.success),
        response_status=result.response_status,
        response_body=result.response_body and redact_text(result.response_body, webhook.url),
        error_message=error_message,
    )


def check_loopback_webhooks(tracking_uri: str) -> None:
    """Raise :class:`WebhookUrlRefusedError` unless the server takes webhooks to loopback http.

    Creates a disabled webhook to :data:`PROBE_URL` (nothing is ever sent to it) and deletes it.
    """
    client = bridge_client(tracking_uri)
    from mlflow.exceptions import MlflowException

    try:
        probe = client.create_webhook(
            name="hokusai-loopback-probe",
            url=PROBE_URL,
            events=[_event(TEST_EVENT)],
            status="DISABLED",
        )
    except MlflowException as error:
        raise _translated(error, tracking_uri, PROBE_URL) from None
    client.delete_webhook(probe.webhook_id)


def _all_webhooks(client: MlflowClient, tracking_uri: str) -> list[Webhook]:
    from mlflow.exceptions import MlflowException

    try:
        return list(_pages(client))
    except MlflowException as error:
        raise _translated(error, tracking_uri) from None


def _pages(client: MlflowClient) -> Iterator[Webhook]:
    token: str | None = None
    while True:
        page = client.list_webhooks(max_results=_PAGE_SIZE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _the_bridge_webhook(client: MlflowClient, tracking_uri: str) -> WebhookInfo:
    candidates = [
        info for info in map(_info, _all_webhooks(client, tracking_uri)) if info.serves_bridge
    ]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise WebhookNotFoundError(
            f"no webhook on MLflow at {redacted_url(tracking_uri)} sends "
            f"{' and '.join(BRIDGE_EVENTS)}; create one with 'hokusai-contract mlflow-webhook "
            "create', or name the webhook to test by its id"
        )
    ids = ", ".join(info.webhook_id for info in candidates)
    raise WebhookNotFoundError(
        f"{len(candidates)} webhooks on MLflow at {redacted_url(tracking_uri)} send the bridge's "
        f"events ({ids}); name the one to test by its id"
    )


def _event(name: str) -> WebhookEvent:
    """MLflow's event for an ``entity.action`` name."""
    from mlflow.entities.webhook import WebhookEvent

    entity, action = name.split(".")
    return WebhookEvent(entity, action)


def _info(webhook: Webhook) -> WebhookInfo:
    return WebhookInfo(
        webhook_id=webhook.webhook_id,
        name=webhook.name,
        url=redacted_url(webhook.url),
        events=tuple(str(event) for event in webhook.events),
        status=str(webhook.status),
    )


def _translated(
    error: MlflowException, tracking_uri: str, url: str | None = None, secret: str | None = None
) -> MlflowWebhookError:
    """MLflow's error as one of ours, its message in words with every credential hidden."""
    message = redact_text(error.message, tracking_uri, url, secrets=[secret] if secret else [])
    server = f"MLflow at {redacted_url(tracking_uri)}"
    if error.error_code == "RESOURCE_DOES_NOT_EXIST":
        return WebhookNotFoundError(
            f"{server} has no such webhook ({message}); 'hokusai-contract mlflow-webhook list' "
            "shows the ids"
        )
    if error.error_code == "ENDPOINT_NOT_FOUND" or not_mlflow_answer(error):
        return NotAWebhookServerError(
            f"{redacted_url(tracking_uri)} answered, but not as an MLflow tracking server with "
            "webhooks (MLflow 3.3 or later): check --tracking-uri (the server's own address)"
        )
    if _SERVER_ERROR.search(message):
        return MlflowWebhookError(
            f"{server} failed with 500 on its webhook API; a server that cannot decrypt its "
            f"webhooks' secrets does that: give every server process the same fixed "
            f"{ENCRYPTION_KEY_SETTING}, then create the webhook again"
        )
    refusal = _refusal_words(message, server, url)
    if refusal is not None:
        return WebhookUrlRefusedError(refusal)
    return MlflowWebhookError(f"{server} failed: {message}")


def not_mlflow_answer(error: MlflowException) -> bool:
    """True when the error tells of an answer no MLflow server gives: a body that is not JSON,
    or a JSON error without MLflow's ``error_code`` (another web server at that address)."""
    from mlflow.exceptions import RestException

    if "not in a valid JSON format" in error.message:
        return True
    return isinstance(error, RestException) and "error_code" not in error.json


def _refusal_words(message: str, server: str, url: str | None) -> str | None:
    """Why MLflow refused a webhook URL and what to set, when ``message`` says it did."""
    shown = f" {redacted_url(url)}" if url else ""
    scheme = _SCHEME_REFUSED.search(message)
    if scheme:
        return (
            f"{server} refuses the webhook URL{shown}: it allows only {scheme.group(2)} URLs, "
            f"not {scheme.group(1)}; in production give the bridge an https URL, and for a test "
            f"server on this machine start it with {SCHEMES_SETTING}=http,https"
        )
    private = _PRIVATE_REFUSED.search(message) or _PRIVATE_BLOCKED.search(message)
    if private:
        address = private.group(private.lastindex or 1)
        return (
            f"{server} refuses the webhook URL{shown}: it reaches only public addresses, and "
            f"this one is {address}; in production give the bridge a public address, and for "
            f"a test server on this machine start it with {PRIVATE_IPS_SETTING}=true"
        )
    unresolved = _UNRESOLVED.search(message)
    if unresolved:
        return (
            f"{server} cannot resolve the host {unresolved.group(1)!r} of the webhook URL"
            f"{shown}: check its spelling, and DNS on the MLflow server's machine"
        )
    return None


def _delivery_error_words(message: str, tracking_uri: str, url: str) -> str:
    """Why MLflow's delivery got no answer, in words; MLflow's own text only when it names
    nothing known (it is a wrapped exception's ``repr``)."""
    server = f"MLflow at {redacted_url(tracking_uri)}"
    refusal = _refusal_words(message, server, None)
    if refusal is not None:
        return refusal
    for pattern, why in _NO_ANSWER:
        if pattern.search(message):
            return f"nothing answered at {redacted_url(url)} ({why}): is the bridge running there?"
    return message
