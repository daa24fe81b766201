"""Rules of the stub site that hold for every input, checked over real HTTP."""

from __future__ import annotations

from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contracts
from contracts.receiver import RunningStubSite
from tests.receiver.support import SECRET, deliver, registration

OTHER_TOKENS = ("OTHER-1", "LSCOR-2")
PROPERTY_SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

token_ids = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?", fullmatch=True)
names = st.text(min_size=1, max_size=40).filter(str.strip)
baseline_values = st.one_of(
    st.integers(min_value=-(10**300), max_value=10**300),
    st.floats(allow_nan=False, allow_infinity=False),
)
status_casings = st.sampled_from(["REGISTERED", "registered", "Registered", "rEgIsTeReD"])


@st.composite
def valid_payloads(draw: st.DrawFn) -> dict[str, Any]:
    token_id = draw(token_ids.filter(lambda value: value.upper() not in OTHER_TOKENS))
    return {
        "event_type": "model_registered",
        "timestamp": contracts.format_timestamp(),
        "token_id": token_id,
        "model_name": draw(names),
        "model_version": str(draw(st.integers(min_value=1, max_value=10**12))),
        "mlflow_run_id": draw(st.none() | st.text(alphabet="0123456789abcdef", min_size=1)),
        "metric_name": draw(names),
        "baseline_value": draw(baseline_values),
        "status": draw(status_casings),
        "tags": {"hokusai_token_id": token_id},
    }


def state_of(site: RunningStubSite, token_id: str) -> dict[str, Any]:
    answer = requests.get(site.state_url_template.format(token_id=token_id), timeout=10)
    assert answer.status_code == 200
    state: dict[str, Any] = answer.json()
    return state


@PROPERTY_SETTINGS
@given(payload=valid_payloads())
def test_any_valid_delivery_registers_exactly_the_upper_cased_token_with_its_fields(
    served_site: RunningStubSite, payload: dict[str, Any]
) -> None:
    token_id = payload["token_id"].upper()
    served_site.reset([token_id, *OTHER_TOKENS])

    answer = deliver(served_site, payload)

    assert answer.status_code == 200, answer.text
    assert answer.json()["token_id"] == token_id
    state = state_of(served_site, payload["token_id"])
    expected = {key: payload[key] for key in ("model_name", "model_version", "mlflow_run_id")}
    assert state.items() >= {"token_id": token_id, "status": "REGISTERED", **expected}.items()
    assert state["metric_name"] == payload["metric_name"]
    assert state["baseline_value"] == payload["baseline_value"]
    assert type(state["baseline_value"]) is type(payload["baseline_value"])
    for other in OTHER_TOKENS:
        assert state_of(served_site, other)["status"] == "DRAFT"


signature_headers = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(
        str.lstrip  # the HTTP client refuses to send leading whitespace
    ),
    st.builds(lambda digest: "sha256=" + digest, st.text(alphabet="0123456789abcdefABCDEF")),
    st.sampled_from(["wrong-secret", SECRET + " ", SECRET.upper(), "x"]).map(
        lambda secret: contracts.sign(contracts.serialize(registration()), secret)
    ),
)
bodies = st.one_of(
    st.just(contracts.serialize(registration())),
    st.binary(max_size=200),
    valid_payloads().map(contracts.serialize),
)


@PROPERTY_SETTINGS
@given(body=bodies, header=signature_headers)
def test_no_delivery_with_a_bad_or_missing_signature_changes_state_or_gets_a_5xx(
    served_site: RunningStubSite, body: bytes, header: str | None
) -> None:
    served_site.reset(["LSCOR"])
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[contracts.SIGNATURE_HEADER] = header

    answer = requests.post(served_site.webhook_url, data=body, headers=headers, timeout=10)

    assert answer.status_code == 401, answer.text
    assert answer.json()["success"] is False
    assert served_site.token("LSCOR")["status"] == "DRAFT"
    assert [delivery["token_id"] for delivery in served_site.deliveries()] == [None]
