"""Schemathesis against a receiver: generated requests from ``schemas/openapi.yaml``.

Every request is signed over its exact bytes by a ``requests`` auth object registered with the
schema's ``auth.set_from_requests`` (it runs after serialization, so it sees the bytes on the
wire); negative cases that negate the signature header go out unsigned and must get 401.

Positive cases carry a fresh timestamp (a receiver with a replay window would refuse generated
dates) and, most of the time, the token under test, so that acceptance is really exercised: in
``token_id`` for a v1 body, in ``model.id`` (lower-case, as the SDK sends it) for a v2 body.
The webhook is fuzzed at the path the URL names: either of the contract's paths is found in
the OpenAPI document as it is; a handler mounted elsewhere gets the same operation there.
Each mode becomes one row of the results table. Requests go through a bounded session: each
ends within the timeout, answer included, and keeps at most 64 KiB of its answer.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from contracts.conformance.answers import SECRET_FIX, no_answer
from contracts.conformance.report import REPRODUCTIONS
from contracts.conformance.results import CheckResult, Finding
from contracts.envelope import EVENT_HEADER, IDEMPOTENCY_KEY_HEADER, SEED_PATH, WEBHOOK_PATHS
from contracts.payload import EVENT_TYPE, Shape, format_timestamp, payload_shape
from contracts.schema import openapi_path
from contracts.signing import SIGNATURE_HEADER, sign
from contracts.support.cache import cache_root
from contracts.support.http import bounded_session, describe_connection_failure
from contracts.urls import MASK, redacted_url

DEFAULT_MAX_EXAMPLES = 50
_MAX_FLOAT = 1.7976931348623157e308
_EXPECTED = {"positive": frozenset({200, 404}), "negative": frozenset({400, 401})}
_EXPECTED_WORDS = {
    "positive": "200 (the token under test) or 404 (a generated token id)",
    "negative": "400 (invalid body) or 401 (invalid signature)",
}


class SignedBody(requests.auth.AuthBase):
    """Sign the exact bytes a request carries with the shared secret."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def __repr__(self) -> str:
        return "SignedBody(secret=***)"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        request.headers[SIGNATURE_HEADER] = sign(body, self._secret)
        return request


_QUOTED_STATUS = re.compile(r"got `(\d{3})")


class _Unreachable(Exception):
    """The receiver stopped answering; the run ends early."""


@dataclass
class _ModeTally:
    """What one mode observed: status counts and the distinct failures (first example each)."""

    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    reproductions: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: int = 0
    unreachable: str | None = None

    def record_failure(self, title: str, example: str, reproduction: dict[str, Any]) -> None:
        self.failures.setdefault(title, example)
        self.reproductions.setdefault(title, reproduction)


def _contract_status(mode: str) -> Any:
    """A per-response check: the status the contract gives this kind of request."""

    def contract_status(ctx: Any, response: Any, case: Any) -> None:
        meta = case.meta
        actual = meta.generation.mode.value if meta is not None else mode
        if response.status_code not in _EXPECTED[actual]:
            raise AssertionError(
                f"{actual} case answered {response.status_code}, expected {_EXPECTED_WORDS[actual]}"
            )

    return contract_status


def split_url(url: str) -> tuple[str, str]:
    """The base URL Schemathesis prefixes and the path of the webhook under it."""
    parts = urlsplit(url)
    path = parts.path or "/"
    known = next((known for known in WEBHOOK_PATHS if path.endswith(known)), None)
    base_path = path[: -len(known)] if known else ""
    base = urlunsplit((parts.scheme, parts.netloc, base_path, "", ""))
    return base, known or path


def _load_operation(webhook_path: str, secret: str) -> Any:
    import schemathesis

    schema = schemathesis.openapi.from_path(openapi_path(), config=schemathesis.Config())
    paths = schema.raw_schema["paths"]
    if webhook_path not in paths:
        # A handler mounted elsewhere: the same operation under its real path.
        schema.raw_schema["paths"] = {webhook_path: paths[SEED_PATH]}
    schema.auth.set_from_requests(SignedBody(secret))
    return schema[webhook_path]["POST"]


def _fitted_body(body: dict[str, Any], token: str, use_token: bool) -> dict[str, Any]:
    """A drawn body stamped now, carrying the token under test where its shape keeps it."""
    fitted = {**body, "timestamp": format_timestamp()}
    if payload_shape(fitted) is Shape.V1:
        if use_token:
            fitted["token_id"] = token
        value = fitted.get("baseline_value")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_FLOAT:
            fitted["baseline_value"] = 0.5  # JSON allows it; a 64-bit float cannot hold it
    elif use_token and isinstance(fitted.get("model"), dict):
        fitted["model"] = {**fitted["model"], "id": token.lower()}  # the slug the SDK sends
    return fitted


def _fit_positive(token: str) -> Any:
    """Give a positive case what the schema cannot say: a current timestamp, a real token."""

    def fit(drawn: tuple[Any, bool]) -> Any:
        case, use_token = drawn
        if isinstance(case.body, dict):
            case.body = _fitted_body(case.body, token, use_token)
        case.headers[IDEMPOTENCY_KEY_HEADER] = str(uuid.uuid4())
        return case

    return fit


def _run_mode(
    operation: Any,
    mode_name: str,
    base_url: str,
    token: str,
    max_examples: int,
    timeout: float,
    seed: int | None = None,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> _ModeTally:
    import hypothesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi import checks as openapi_checks

    mode = GenerationMode(mode_name)
    headers = {EVENT_HEADER: EVENT_TYPE, IDEMPOTENCY_KEY_HEADER: str(uuid.uuid4())}
    strategy = operation.as_strategy(generation_mode=mode, headers=headers)
    if mode is GenerationMode.POSITIVE:
        strategy = st.tuples(strategy, st.booleans()).map(_fit_positive(token))
    checks = [
        openapi_checks.status_code_conformance,
        openapi_checks.content_type_conformance,
        openapi_checks.response_schema_conformance,
        openapi_checks.ignored_auth,
        _contract_status(mode_name),
    ]
    tally = _ModeTally()
    session = bounded_session(headers=extra_headers)
    hidden = {name.lower() for name, _ in extra_headers}

    @settings(
        max_examples=max_examples,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=seed is None,
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def exercise(case: Any) -> None:
        if tally.unreachable is not None:
            return
        tally.sent += 1
        transport = {"base_url": base_url, "session": session, "timeout": timeout}
        try:
            response = case.call(base_url, session, timeout=timeout)
        except requests.RequestException as error:
            silence = describe_connection_failure(error)
            tally.unreachable = no_answer(base_url + operation.path, silence, timeout)
            return
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks, transport_kwargs=transport)
        except FailureGroup as group:
            for failure in group.exceptions:
                title = _title(failure)
                tally.record_failure(
                    title,
                    _example(failure, response),
                    _reproduction(title, failure, response, hidden),
                )

    if seed is not None:
        exercise = hypothesis.seed(seed)(exercise)
    try:
        exercise()
    finally:
        session.close()
    return tally


def _title(failure: Any) -> str:
    title = str(failure.title)
    return "status outside the contract" if title.startswith("Custom check failed") else title


def _example(failure: Any, response: Any) -> str:
    """The failure in words, with the status of the request it is about."""
    message = " ".join(str(failure.message).split())
    return f"{message}; answer {_status_of(failure, response)}; reproduce it from the report"


def _status_of(failure: Any, response: Any) -> int:
    """The status the failing request got: for ignored authentication that is the answer to
    the unsigned replay, which the failure's message quotes, not the signed case's answer."""
    quoted = _QUOTED_STATUS.search(str(failure.message))
    if failure.__class__.__name__ == "IgnoredAuth" and quoted:
        return int(quoted.group(1))
    return int(response.status_code)


def _reproduction(
    title: str, failure: Any, response: Any, hidden: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    """Exactly what the failing request sent, for a curl command and a body file; the values
    of the ``hidden`` headers (the extra ones given to the run, secrets) are masked."""
    request = response.request
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = {
        str(name): MASK if str(name).lower() in hidden else str(value)
        for name, value in request.headers.items()
    }
    if failure.__class__.__name__ == "IgnoredAuth":
        # the replay went out without the signature: that is the request to send again
        headers = {n: v for n, v in headers.items() if n.lower() != SIGNATURE_HEADER.lower()}
    return {
        "title": title,
        "status": _status_of(failure, response),
        "method": str(request.method),
        "url": redacted_url(str(request.url)),
        "headers": headers,
        "body_base64": base64.b64encode(body).decode("ascii"),
    }


def _finding(mode_name: str, tally: _ModeTally) -> Finding:
    seen = ", ".join(f"{count}x{status}" for status, count in sorted(tally.statuses.items()))
    details: dict[str, Any] = {
        "requests": tally.sent,
        "statuses": dict(tally.statuses),
        "failures": tally.failures,
    }
    if tally.reproductions:
        details[REPRODUCTIONS] = list(tally.reproductions.values())
    if tally.unreachable is not None:
        return Finding.failed(
            f"{mode_name}: the receiver stopped answering after {tally.sent} requests: "
            f"{tally.unreachable}",
            "look at the handler's log: a generated request made it hang or crash",
            **details,
        )
    if mode_name == "positive" and tally.statuses and set(tally.statuses) == {401}:
        return Finding.failed(
            f"positive: every signed request got 401 ({tally.sent} sent): the receiver accepts "
            "none of the contract's signatures (missing auth)",
            SECRET_FIX,
            **details,
        )
    if tally.failures:
        first_example = next(iter(tally.failures.values()))
        titles = "; ".join(tally.failures)
        return Finding.failed(
            f"{mode_name}: {len(tally.failures)} kind(s) of failure in {tally.sent} generated "
            f"requests ({seen}): {titles}. First: {first_example}",
            "answer as schemas/openapi.yaml documents: the listed status codes, JSON bodies of "
            "the documented shape, Content-Type application/json, never 5xx",
            **details,
        )
    return Finding.passed(
        f"{mode_name}: {tally.sent} generated requests, all answered as documented ({seen})",
        **details,
    )


SCHEMATHESIS_CHECKS = (
    ("schemathesis-positive", "Schemathesis: valid signed requests are answered as documented"),
    ("schemathesis-negative", "Schemathesis: invalid requests are refused as documented"),
)
_MODES = ("positive", "negative")


def run_schemathesis(
    url: str,
    secret: str,
    token: str,
    *,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    timeout: float = 10.0,
    seed: int | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> list[CheckResult]:
    """Fuzz the webhook operation in positive and negative mode; one result per mode, each
    request sent with ``headers`` too (their values are masked in the reproductions).

    Generation is the same on every run unless ``seed`` is given: then that seed's.
    """
    base_url, webhook_path = split_url(url)
    operation = _load_operation(webhook_path, secret)
    results = []
    for (check_id, title), mode_name in zip(SCHEMATHESIS_CHECKS, _MODES, strict=True):
        started = time.perf_counter()
        finding = _finding(
            mode_name,
            _run_mode(operation, mode_name, base_url, token, max_examples, timeout, seed, headers),
        )
        results.append(finding.result(check_id, title, time.perf_counter() - started))
    return results


@contextmanager
def hypothesis_files_in_the_cache() -> Iterator[None]:
    """Have Hypothesis keep its files (its Unicode tables, the constants it collects) in this
    package's cache folder for the length of the block: by default it makes ``.hypothesis/`` in
    the current folder, which a command judging a receiver from any folder must not leave
    behind. Its folder before is given back after, so that a test session keeps its own."""
    from hypothesis.configuration import set_hypothesis_home_dir, storage_directory

    try:
        before: Path | None = storage_directory(intent_to_write=False).home_directory
    except TypeError:  # a Hypothesis older than its StorageDirectory: back to its default
        before = None
    set_hypothesis_home_dir(cache_root() / "hypothesis")
    try:
        yield
    finally:
        set_hypothesis_home_dir(before)


def skipped_schemathesis(why: str) -> list[CheckResult]:
    """The Schemathesis rows when the run cannot or should not happen."""
    return [
        Finding.skipped(why).result(check_id, title, 0.0) for check_id, title in SCHEMATHESIS_CHECKS
    ]
