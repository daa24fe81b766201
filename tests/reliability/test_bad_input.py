"""The stub site under a flood of generated bad input: never a 5xx, never a change unsigned.

Two generators: Hypothesis builds raw bodies (bytes, JSON of any shape, valid events with a
field broken, valid events with junk around them) and signature headers (absent, junk, wrong
digest, wrong secret, another body's signature, and sometimes the right one); Schemathesis
builds requests from ``schemas/openapi.yaml`` in negative (and positive) mode, each signed over
its exact bytes. The oracle for "validly signed" is the core's :func:`contracts.verify`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contracts
from contracts.conformance.results import Verdict
from contracts.conformance.schemathesis_run import run_schemathesis
from contracts.receiver import RunningStubSite, running_stub_site
from contracts.receiver.store import REGISTERED, Transition
from tests.reliability.support import SECRET, registration

TOKENS = tuple(f"FUZZ-{number}" for number in range(20))
WRONG_SECRET = "not-the-" + SECRET
ACCEPTED = {Transition.REGISTERED.value, Transition.DUPLICATE.value}

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def broken_events(draw: st.DrawFn) -> bytes:
    """A valid event for one of the site's tokens with one field removed, replaced or added."""
    payload = registration(
        draw(st.sampled_from(TOKENS)), version=draw(st.integers(min_value=1, max_value=999))
    )
    name = draw(st.sampled_from([*payload, "extra"]))
    action = draw(st.sampled_from(["drop", "replace", "keep"]))
    if action == "drop":
        payload.pop(name, None)
    elif action == "replace":
        payload[name] = draw(json_values)
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    return json.dumps(payload, separators=separators).encode("utf-8")


@st.composite
def framed_events(draw: st.DrawFn) -> bytes:
    """A valid event with junk before or after it (or cut short)."""
    body = contracts.serialize(registration(draw(st.sampled_from(TOKENS)), version=1))
    junk = draw(st.binary(min_size=1, max_size=16))
    where = draw(st.sampled_from(["before", "after", "cut"]))
    if where == "before":
        return junk + body
    if where == "after":
        return body + junk
    return body[: draw(st.integers(min_value=0, max_value=len(body) - 1))]


bodies = st.one_of(
    st.binary(max_size=2048),
    json_values.map(lambda value: json.dumps(value).encode("utf-8")),
    broken_events(),
    framed_events(),
)
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=90
)


@st.composite
def signature_headers(draw: st.DrawFn, body: bytes) -> str | None:
    """Absent, junk, a wrong digest or secret, another body's signature, or the right one."""
    choice = draw(st.sampled_from(["none", "junk", "digest", "wrong", "other", "right"]))
    if choice == "none":
        return None
    if choice == "junk":
        return draw(header_text)
    if choice == "digest":
        hex_digits = st.text(alphabet="0123456789abcdefABCDEF", min_size=60, max_size=68)
        return contracts.SIGNATURE_PREFIX + draw(hex_digits)
    if choice == "wrong":
        return contracts.sign(body, WRONG_SECRET)
    if choice == "other":
        return contracts.sign(body + b" ", SECRET)
    return contracts.sign(body, SECRET)


@st.composite
def bad_requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    body = draw(bodies)
    headers = {
        "Content-Type": draw(st.sampled_from(["application/json", "text/plain", "x/y"])),
        contracts.EVENT_HEADER: draw(st.sampled_from([contracts.EVENT_TYPE, "other"])),
        contracts.IDEMPOTENCY_KEY_HEADER: draw(
            st.one_of(st.uuids().map(str), header_text, st.just(str(uuid.uuid4())))
        ),
    }
    signature = draw(signature_headers(body))
    if signature is not None:
        headers[contracts.SIGNATURE_HEADER] = signature
    return body, headers


@dataclass
class Tally:
    """What the flood saw; kept outside Hypothesis so the whole run can be judged."""

    statuses: dict[int, int] = field(default_factory=dict)
    accepted_tokens: set[str] = field(default_factory=set)

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


@pytest.fixture
def fuzzed_site(tmp_path: Path) -> Iterator[RunningStubSite]:
    """A stub site with twenty DRAFT tokens and one secret."""
    with running_stub_site(tmp_path / "fuzz.sqlite3", SECRET, tokens=TOKENS) as site:
        yield site


def _store_never_accepted_without_a_signature(site: RunningStubSite) -> None:
    """The site's own log: every accepted or 2xx delivery came with a verified signature."""
    log = [delivery.as_dict() for delivery in site.store.deliveries(limit=10**6)]
    assert log, "the site logged no deliveries at all"
    assert [row for row in log if row["status_code"] >= 500] == []
    unsigned = [row for row in log if row["secret_index"] is None]
    assert [row for row in unsigned if row["verdict"] in ACCEPTED or row["status_code"] < 300] == []
    registered_by = {
        row["token_id"] for row in log if row["verdict"] == Transition.REGISTERED.value
    }
    registered = {token.token_id for token in site.store.tokens() if token.status == REGISTERED}
    assert registered <= registered_by


@pytest.mark.parametrize(
    "examples", [pytest.param(700, id="700"), pytest.param(9000, marks=pytest.mark.soak)]
)
def test_generated_bad_requests_never_get_a_5xx_or_change_state_unsigned(
    fuzzed_site: RunningStubSite, examples: int, proven: Callable[..., None]
) -> None:
    tally = Tally()
    session = requests.Session()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=bad_requests())
    def send(request: tuple[bytes, dict[str, str]]) -> None:
        body, headers = request
        signed = bool(contracts.verify(body, headers.get(contracts.SIGNATURE_HEADER), SECRET))
        before = fuzzed_site.store.tokens()
        answer = session.post(fuzzed_site.webhook_url, data=body, headers=headers, timeout=10)
        tally.count(answer.status_code)
        assert answer.status_code < 500, answer.text
        if not signed:
            assert answer.status_code == 401, answer.text
            assert fuzzed_site.store.tokens() == before
        else:
            assert answer.status_code in {200, 400, 404}, answer.text
        if answer.status_code == 200:
            tally.accepted_tokens.add(answer.json()["token_id"])

    try:
        send()
    finally:
        session.close()

    assert set(tally.statuses) >= {200, 400, 401}, tally.statuses
    assert sum(tally.statuses.values()) >= examples // 2
    registered = {t.token_id for t in fuzzed_site.store.tokens() if t.status == REGISTERED}
    assert registered <= tally.accepted_tokens
    _store_never_accepted_without_a_signature(fuzzed_site)
    proven(
        requests=sum(tally.statuses.values()),
        answers=", ".join(f"{count}x{status}" for status, count in sorted(tally.statuses.items())),
    )


@pytest.mark.parametrize(
    "examples_per_mode",
    [pytest.param(150, id="150-per-mode"), pytest.param(500, marks=pytest.mark.soak)],
)
def test_schemathesis_requests_from_the_openapi_document_are_refused_as_documented(
    fuzzed_site: RunningStubSite, examples_per_mode: int, proven: Callable[..., None]
) -> None:
    results = run_schemathesis(
        fuzzed_site.webhook_url, SECRET, TOKENS[0], max_examples=examples_per_mode
    )

    assert [(result.check_id, result.verdict) for result in results] == [
        ("schemathesis-positive", Verdict.PASS),
        ("schemathesis-negative", Verdict.PASS),
    ], [result.why for result in results]
    negative = results[1].details
    assert negative["requests"] >= examples_per_mode // 2
    assert not any(status >= 500 for status in negative["statuses"])
    _store_never_accepted_without_a_signature(fuzzed_site)
    answers: dict[int, int] = {}
    for result in results:
        for status, count in result.details["statuses"].items():
            answers[int(status)] = answers.get(int(status), 0) + count
    proven(
        requests=sum(result.details["requests"] for result in results),
        answers=", ".join(f"{count}x{status}" for status, count in sorted(answers.items())),
    )
