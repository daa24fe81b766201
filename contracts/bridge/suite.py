"""The bridge suite: prove the bridge end to end against a real MLflow server and the stub site.

Each check registers real model versions with a plain ``MlflowClient`` (no SDK) on the given
tracking server, whose webhooks reach a bridge on 127.0.0.1 (the server needs the loopback
settings of :func:`contracts.sender.loopback_webhook_settings`), and reads the outcome on a
fresh stub site. :func:`bridge_suite` runs them all: the contract test's bridge suite, and what
the tests under ``tests/bridge`` call one check at a time.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from contracts.bridge.events import IgnoredReason
from contracts.bridge.verify import sign_mlflow_delivery
from contracts.conformance.checklist import Checklist, OnResult
from contracts.conformance.results import Finding, SuiteResult
from contracts.envelope import idempotency_key
from contracts.payload import TOKEN_TAG
from contracts.sender.mlflow_webhooks import (
    BRIDGE_EVENTS,
    TEST_EVENT_MODEL,
    VERSION_CREATED,
    VERSION_TAG_SET,
    create_bridge_webhook,
    trigger_test_delivery,
)
from contracts.support.child import ChildProcess

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    from contracts.bridge.app import Bridge
    from contracts.receiver import RunningStubSite
    from contracts.support.server import RunningServer

ARRIVAL_TIMEOUT = 60.0
"""The longest a check waits for something MLflow sends; a safety net, not a measure."""
_POLL = 0.1
_SERVING_LINE = "bridge: serving "
TINY_MODEL_FOLDER = "tiny-model"
"""Where under the workdir the tiny model is saved: the sender suite's folder, reused."""


@dataclass
class Rig:
    """What every check works with: the tracking server, a folder, and a model to register."""

    tracking_uri: str
    workdir: Path
    model_dir: Path
    client: MlflowClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from mlflow import MlflowClient

        uri = self.tracking_uri
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def folder(self, name: str) -> Path:
        """A fresh folder of its own for one check."""
        path = self.workdir / f"{name}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    def register(self, token: str | None, *, tag_later: bool = False) -> ModelVersion:
        """A new version of a new model, tagged ``hokusai_token_id=token`` (unless ``None``) at
        creation or just after it, with a plain ``MlflowClient``."""
        from contracts.sender import log_tiny_model

        name = f"Bridge model {uuid.uuid4().hex[:8]}"
        self.client.create_registered_model(name)
        source = log_tiny_model(self.tracking_uri, self.model_dir)
        run_id = source.split("/")[1]
        tags = {} if tag_later or token is None else {TOKEN_TAG: token}
        version = self.client.create_model_version(name, source, run_id, tags=tags)
        if tag_later and token is not None:
            self.client.set_model_version_tag(name, version.version, TOKEN_TAG, token)
        return version

    @contextmanager
    def webhook(self, url: str, secret: str) -> Iterator[str]:
        """The bridge's MLflow webhook (:func:`create_bridge_webhook`) to ``url``, live; yields
        its id."""
        name = f"bridge-{uuid.uuid4().hex[:8]}"
        hook = create_bridge_webhook(self.tracking_uri, url, secret, name=name)
        try:
            yield hook.webhook_id
        finally:
            self.client.delete_webhook(hook.webhook_id)


@dataclass
class Running:
    """A stub site, an in-process bridge delivering to it, and the MLflow webhook to the bridge."""

    site: RunningStubSite
    bridge: Bridge
    server: RunningServer
    webhook_id: str
    mlflow_secret: str = field(repr=False)
    site_secret: str = field(repr=False)


@contextmanager
def running_bridge(rig: Rig, tokens: tuple[str, ...]) -> Iterator[Running]:
    """Everything one check needs, stopped however it ends."""
    from contracts.bridge.app import Bridge, BridgeConfig
    from contracts.receiver import running_stub_site
    from contracts.support.server import RunningServer

    folder = rig.folder("bridge")
    site_secret, mlflow_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    with running_stub_site(folder / "site.sqlite3", site_secret, tokens) as site:
        outbox = folder / "outbox.sqlite3"
        config = BridgeConfig((mlflow_secret,), site.webhook_url, site_secret, outbox)
        bridge = Bridge(replace(config, tracking_uri=rig.tracking_uri))
        bridge.start()
        try:
            with (
                RunningServer(bridge) as server,
                rig.webhook(server.url("/"), mlflow_secret) as hook,
            ):
                yield Running(site, bridge, server, hook, mlflow_secret, site_secret)
        finally:
            bridge.stop()


def wait_until(condition: Callable[[], bool], timeout: float = ARRIVAL_TIMEOUT) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL)
    return True


def _status(site: RunningStubSite, token: str) -> str:
    return str(site.token(token)["status"])


def _registered(site: RunningStubSite, token: str) -> bool:
    return _status(site, token) == "REGISTERED"


def _expected_api_schema(rig: Rig, version: ModelVersion) -> Any:
    from contracts.sender.signature import version_api_schema

    return version_api_schema(rig.client, version).api_schema


def _registered_as_mlflow_says(rig: Rig, token: str, tag_later: bool) -> Finding:
    with running_bridge(rig, (token,)) as run:
        version = rig.register(token, tag_later=tag_later)
        if not wait_until(lambda: _registered(run.site, token)):
            return Finding.failed(
                f"token {token} is still {_status(run.site, token)} {ARRIVAL_TIMEOUT:g} s after "
                f"{version.name!r} version {version.version} was tagged {TOKEN_TAG}={token.lower()}"
                f"; the stub site got {run.site.deliveries(token)}",
                "check the bridge's log: it names each MLflow delivery it refused or ignored",
            )
        stored = run.site.token(token)
    expected = {
        "model_name": version.name,
        "model_version": str(version.version),
        "mlflow_run_id": version.run_id,
        "api_schema": _expected_api_schema(rig, version),
    }
    wrong = {
        name: stored.get(name) for name, value in expected.items() if stored.get(name) != value
    }
    if wrong:
        return Finding.failed(
            f"token {token} is REGISTERED, but the stub site holds {wrong}, MLflow says "
            f"{ {name: expected[name] for name in wrong} }",
            "build the notification from the version MLflow holds",
        )
    when = "set after creation" if tag_later else "given at creation"
    return Finding.passed(
        f"{version.name!r} v{version.version}, tag {when}: {token} REGISTERED with MLflow's "
        "name, version, run id and the api_schema of its signature"
    )


BRIDGE_CHECKS: Checklist[Rig] = Checklist()


@BRIDGE_CHECKS.check(
    "bridge-tagged-at-creation", "a plain MlflowClient version tagged at creation registers"
)
def tagged_at_creation(rig: Rig) -> Finding:
    return _registered_as_mlflow_says(rig, "LSCOR", tag_later=False)


@BRIDGE_CHECKS.check("bridge-tagged-later", "a version tagged after creation registers")
def tagged_later(rig: Rig) -> Finding:
    return _registered_as_mlflow_says(rig, "LSCOR", tag_later=True)


@BRIDGE_CHECKS.check(
    "bridge-one-transition", "both events of one version give exactly one transition"
)
def one_transition(rig: Rig) -> Finding:
    token = "LSCOR"
    with running_bridge(rig, (token,)) as run:
        version = rig.register(token)
        rig.client.set_model_version_tag(version.name, version.version, TOKEN_TAG, token.lower())
        arrived = wait_until(lambda: len(run.site.deliveries(token)) >= 2)
        deliveries = run.site.deliveries(token)
    key = idempotency_key(token, version.name, version.version)
    verdicts = [delivery["verdict"] for delivery in deliveries]
    keys = {delivery["idempotency_key"] for delivery in deliveries}
    if not arrived or verdicts.count("registered") != 1 or keys != {key}:
        return Finding.failed(
            f"the two MLflow events of {version.name!r} v{version.version} gave the deliveries "
            f"{verdicts} with keys {sorted(map(str, keys))} (wanted one 'registered' and the "
            f"rest 'duplicate', all with the SDK's key {key})",
            "derive the idempotency key from the token, model name and version alone",
        )
    return Finding.passed(
        f"{VERSION_CREATED} and {VERSION_TAG_SET}: deliveries {verdicts}, one key "
        f"{key} (the SDK's for that version)"
    )


@BRIDGE_CHECKS.check("bridge-test-event", "MLflow's test event is answered 2xx, changes nothing")
def test_event(rig: Rig) -> Finding:
    with running_bridge(rig, ("LSCOR",)) as run:
        answers = [
            trigger_test_delivery(rig.tracking_uri, run.webhook_id, event=event)
            for event in BRIDGE_EVENTS
        ]
        changed = run.site.deliveries() or run.bridge.outbox.waiting()
        status = _status(run.site, "LSCOR")
    wrong = [
        answer.words()
        for answer in answers
        if not (
            answer.success and IgnoredReason.MLFLOW_TEST_EVENT.value in (answer.response_body or "")
        )
    ]
    if wrong or changed or status != "DRAFT":
        return Finding.failed(
            f"MLflow's test events were answered {wrong or 'as wanted'}; afterwards the stub "
            f"site holds LSCOR {status} and deliveries/outbox entries {changed or 'none'}",
            f"answer MLflow's example payloads ({TEST_EVENT_MODEL}, no token tag) 2xx and "
            "ignore them",
        )
    return Finding.passed(
        f"both test events answered 2xx {IgnoredReason.MLFLOW_TEST_EVENT.value!r}; nothing sent"
    )


@BRIDGE_CHECKS.check("bridge-forged-or-stale", "a forged or stale MLflow signature gets 401")
def forged_or_stale(rig: Rig) -> Finding:
    with running_bridge(rig, ("LSCOR",)) as run:
        version = rig.register(None)  # a real version: only the signature is wrong
        event = {
            "entity": "model_version",
            "action": "created",
            "timestamp": "2026-01-01T00:00:00+00:00",
            "data": {
                "name": version.name,
                "version": version.version,
                "tags": {TOKEN_TAG: "lscor"},
            },
        }
        body = json.dumps(event).encode()
        tries = {
            "forged": sign_mlflow_delivery(body, "not-the-secret"),
            "stale": sign_mlflow_delivery(
                body, run.mlflow_secret, timestamp=int(time.time()) - 2 * 300 - 1
            ),
            "unsigned": {"Content-Type": "application/json"},
        }
        statuses = {
            what: requests.post(
                run.server.url("/"), data=body, headers=headers, timeout=30
            ).status_code
            for what, headers in tries.items()
        }
        changed = run.site.deliveries() or run.bridge.outbox.waiting()
        status = _status(run.site, "LSCOR")
    if set(statuses.values()) != {401} or changed or status != "DRAFT":
        return Finding.failed(
            f"answers {statuses}; afterwards LSCOR is {status}, deliveries/outbox entries "
            f"{changed or 'none'}",
            "verify X-MLflow-Signature over delivery id, timestamp and raw body, within the "
            "tolerance, before anything else",
        )
    return Finding.passed(f"answers {statuses}; LSCOR still DRAFT, nothing sent")


@BRIDGE_CHECKS.check(
    "bridge-killed-catch-up", "the bridge killed while the site is down loses nothing"
)
def killed_then_caught_up(rig: Rig) -> Finding:
    from contracts.receiver import running_stub_site
    from contracts.sender.outbox import Outbox

    folder = rig.folder("killed")
    token = f"K{uuid.uuid4().hex[:8].upper()}"
    site_secret, mlflow_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    outbox_path, db = folder / "outbox.sqlite3", folder / "site.sqlite3"
    with running_stub_site(db, site_secret, (token,)) as site:
        port, url = site.server.port, site.webhook_url
    env = {"BRIDGE_SITE_SECRET": site_secret, "BRIDGE_MLFLOW_SECRET": mlflow_secret}
    common = ["--url", url, "--secret-env", "BRIDGE_SITE_SECRET", "--outbox", str(outbox_path)]
    common += ["--tracking-uri", rig.tracking_uri]
    with BridgeProcess([*common, "--mlflow-secret-env", "BRIDGE_MLFLOW_SECRET"], env) as bridge:
        outbox = Outbox(outbox_path)
        with rig.webhook(bridge.url, mlflow_secret):
            first = rig.register(token)
            written = wait_until(lambda: bool(outbox.waiting(token)))
            bridge.kill()
            second = rig.register(token, tag_later=True)
        outbox.close()
    if not written:
        return Finding.failed(
            f"the bridge never wrote {first.name!r} v{first.version} down:\n{bridge.output}"
        )
    with running_stub_site(db, site_secret, (token,), port=port) as site:
        done = run_bridge_command([*common, "--catch-up", "--token", token], env)
        delivered = {
            delivery["idempotency_key"]
            for delivery in site.deliveries(token)
            if delivery["status_code"] == 200
        }
    keys = {idempotency_key(token, v.name, v.version): v for v in (first, second)}
    lost = [f"{v.name!r} v{v.version}" for key, v in keys.items() if key not in delivered]
    if lost or done.returncode != 0:
        return Finding.failed(
            f"after the restart and catch-up (exit {done.returncode}), not delivered: "
            f"{lost or 'none'}; its output:\n{done.stdout}{done.stderr}",
            "write each event to the outbox before answering MLflow, and scan the registry "
            "for tagged versions the outbox never delivered",
        )
    return Finding.passed(
        f"{token}: the version queued before the SIGKILL and the one registered while the "
        "bridge was down were both delivered by the catch-up"
    )


def bridge_suite(
    tracking_uri: str, workdir: Path, on_result: OnResult | None = None
) -> SuiteResult:
    """Run every bridge check against the tracking server at ``tracking_uri`` (started with
    the loopback webhook settings), with its files under ``workdir``."""
    from contracts.sender import save_tiny_model

    rig = Rig(tracking_uri, workdir / "bridge", save_tiny_model(workdir / TINY_MODEL_FOLDER))
    refusals = logging.getLogger("contracts.bridge")
    level = refusals.level
    refusals.setLevel(logging.ERROR)  # the forged deliveries are refused on purpose
    try:
        return SuiteResult("bridge", tuple(BRIDGE_CHECKS.run(rig, on_result)))
    finally:
        refusals.setLevel(level)


# --- the bridge as a command -------------------------------------------------------------


def _command(arguments: list[str]) -> list[str]:
    return [sys.executable, "-m", "contracts", "bridge", *arguments]


def run_bridge_command(
    arguments: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``hokusai-contract bridge ARGUMENTS`` run to its end, its output captured."""
    return subprocess.run(
        _command(arguments),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=ARRIVAL_TIMEOUT * 2,
        check=False,
    )


class BridgeProcess(ChildProcess):
    """``hokusai-contract bridge --port 0`` as a child process, its output kept; ``url`` is
    where it serves."""

    def __init__(self, arguments: list[str], env: dict[str, str]) -> None:
        super().__init__(_command(["--port", "0", *arguments]), env)
        url = self.wait_for_line(_SERVING_LINE, ARRIVAL_TIMEOUT)
        if url is None:
            self.kill()
            raise RuntimeError(f"the bridge did not start:\n{self.output}")
        self.url = url.split()[0]

    def stop(self) -> None:
        self.kill()
