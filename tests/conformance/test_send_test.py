"""``hokusai-contract send-test`` against the real stub site over real HTTP: what it sends, how it
reads each answer, and its exit code; plus the pure interpretation for every possible answer."""

from __future__ import annotations

import json
import shlex
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

import contracts
from contracts.cli import build_parser, main
from contracts.conformance.answers import Answer, read_token_state
from contracts.conformance.receiver_under_test import Receiver
from contracts.conformance.send_test import Outcome, interpret, signature_next_steps
from contracts.receiver.testing import RunningStubSite, running_stub_site
from contracts.support.server import serving
from contracts.urls import MASK, redact_text
from tests.handlers.running import running_handler

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

SHARED_SECRET = "send-test shared secret 7f3a"
OTHER_SECRET = "a secret the site does not hold"
RECEIVER = Receiver("http://127.0.0.1:8000/api/mlflow/registered", SHARED_SECRET, "LSCOR")
PATH_HINT = (
    "the contract's paths are /api/webhooks/model-registration (where the SDK posts) and "
    "/api/mlflow/registered (the seed path); --url points at /"
)


@dataclass(frozen=True)
class Run:
    exit_code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def secrets_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SHARED_SECRET)
    monkeypatch.setenv("OTHER_SECRET", OTHER_SECRET)


SendTest = Callable[..., Run]


@pytest.fixture
def send_test(capsys: pytest.CaptureFixture[str]) -> Iterator[SendTest]:
    """Run ``hokusai-contract send-test ARGS``; every run is checked never to print a secret."""

    def run(*args: str) -> Run:
        try:
            exit_code = main(["send-test", *args])
        except SystemExit as usage_error:  # argparse refused an option's value
            exit_code = int(usage_error.code or 0)
        captured = capsys.readouterr()
        for secret in (SHARED_SECRET, OTHER_SECRET):
            assert secret not in captured.out + captured.err
        return Run(exit_code, captured.out, captured.err)

    yield run


SEEDED_TOKENS = ("LSCOR", "OTHER")


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStubSite]:
    database = tmp_path_factory.mktemp("send-test") / "site.sqlite3"
    with running_stub_site(database, SHARED_SECRET, SEEDED_TOKENS) as site:
        yield site


@pytest.fixture
def site(shared_site: RunningStubSite) -> RunningStubSite:
    """A stub site holding the shared secret, with tokens LSCOR and OTHER in DRAFT."""
    shared_site.reset(SEEDED_TOKENS)
    return shared_site


@pytest.fixture
def site_without_a_secret(tmp_path: Path) -> Iterator[RunningStubSite]:
    with running_stub_site(tmp_path / "bare.sqlite3", None) as site:
        yield site


@pytest.fixture
def port_nobody_listens_on() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def listener_that_never_answers() -> Iterator[int]:
    """A real TCP listener that accepts connections (in the kernel) and never replies."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


# --- against the real stub site -------------------------------------------------------------


def test_an_accepted_delivery_exits_zero_and_the_state_url_shows_registered(
    site: RunningStubSite, send_test: SendTest
) -> None:
    run = send_test(
        "--url", site.webhook_url, "--token", "lscor", "--state-url", site.state_url_template
    )
    assert run.exit_code == 0
    assert f"sent: POST {site.webhook_url}" in run.out
    assert "answer: 200" in run.out
    assert "result: ACCEPTED: the receiver accepted the delivery" in run.out
    assert f"state: GET {site.base_url}/api/tokens/LSCOR" in run.out
    assert "confirmed, the token is REGISTERED" in run.out
    assert site.token("LSCOR")["status"] == "REGISTERED"


def _html_home_page(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"<html><body>Welcome to the marketplace</body></html>"]


def test_a_web_page_answering_200_is_unexpected_with_a_hint_at_the_path(
    send_test: SendTest,
) -> None:
    with serving(_html_home_page) as server:
        run = send_test("--url", server.url("/"), "--token", "LSCOR")
    assert_refused(
        run,
        "200",
        "UNEXPECTED: the receiver answered 200 without the contract's answer",
        PATH_HINT,
    )


def test_sending_again_is_accepted_as_a_duplicate(
    site: RunningStubSite, send_test: SendTest
) -> None:
    assert send_test("--url", site.webhook_url, "--token", "LSCOR").exit_code == 0
    run = send_test("--url", site.webhook_url, "--token", "LSCOR")
    assert run.exit_code == 0
    assert "result: ACCEPTED_DUPLICATE:" in run.out
    assert "nothing changed" in run.out


def test_an_accepted_delivery_whose_token_does_not_read_registered_fails(
    site: RunningStubSite, send_test: SendTest
) -> None:
    run = send_test(
        "--url",
        site.webhook_url,
        "--token",
        "LSCOR",
        "--state-url",
        f"{site.base_url}/api/tokens/OTHER?asked={{token_id}}",
    )  # fmt: skip  (a template that reads another, still DRAFT, token)
    assert run.exit_code == 1
    assert "result: ACCEPTED:" in run.out
    assert "status is DRAFT: the token is NOT REGISTERED" in run.out


def assert_refused(run: Run, answer: str, result: str, *words: str, exit_code: int = 1) -> None:
    """Exit 1 (3 when nothing answered), the answer's status line, the verdict, and the words
    that say what to do."""
    assert run.exit_code == exit_code, run.out
    for expected in (f"answer: {answer}", f"result: {result}", *words):
        assert expected in run.out


def test_a_wrong_secret_is_a_rejected_signature_with_the_commands_to_run(
    site: RunningStubSite, send_test: SendTest
) -> None:
    run = send_test("--url", site.webhook_url, "--token", "LSCOR", "--secret-env", "OTHER_SECRET")
    receiver = Receiver(site.webhook_url, OTHER_SECRET, "LSCOR", secret_env="OTHER_SECRET")
    assert_refused(
        run,
        "401",
        "SIGNATURE_REJECTED: the receiver refused the signature (401, mismatch)",
        "holds a different secret",
        "re-serialization of the parsed JSON",
        *(f"\n    {command}\n" for command in commands_in(signature_next_steps(receiver))),
    )
    assert site.token("LSCOR")["status"] == "DRAFT"


def test_a_receiver_without_a_secret_is_told_to_get_the_same_one(
    site_without_a_secret: RunningStubSite, send_test: SendTest
) -> None:
    assert_refused(
        send_test("--url", site_without_a_secret.webhook_url, "--token", "LSCOR"),
        "500",
        "SECRET_NOT_CONFIGURED: the receiver has no webhook secret configured",
        "Webhook secret not configured",
        "with the same secret as the one in $WEBHOOK_SECRET",
    )


def test_an_unknown_token_gets_404_and_is_told_to_seed_it(
    site: RunningStubSite, send_test: SendTest
) -> None:
    assert_refused(
        send_test("--url", site.webhook_url, "--token", "NOPE"),
        "404",
        "UNKNOWN_TOKEN: the receiver answered 404: token NOPE does not exist there.",
        "seed token NOPE as DRAFT",
    )


def test_nothing_listening_is_a_refused_connection_naming_the_url(
    port_nobody_listens_on: int, send_test: SendTest
) -> None:
    url = f"http://127.0.0.1:{port_nobody_listens_on}/api/mlflow/registered"
    assert_refused(
        send_test("--url", url, "--token", "LSCOR"),
        "none",
        f"CONNECTION_REFUSED: no answer from {url} (connection refused).",
        exit_code=3,
    )


def test_a_host_name_that_does_not_resolve_is_no_connection_not_a_refusal(
    send_test: SendTest,
) -> None:
    url = "http://no-such-host.invalid/api/webhooks/model-registration"
    assert_refused(
        send_test("--url", url, "--token", "LSCOR"),
        "none",
        f"NO_CONNECTION: no answer from {url} (the host name does not resolve).",
        exit_code=3,
    )


def test_a_receiver_that_never_answers_is_a_timeout_naming_the_url(
    listener_that_never_answers: int, send_test: SendTest
) -> None:
    url = f"http://127.0.0.1:{listener_that_never_answers}/api/mlflow/registered"
    assert_refused(
        send_test("--url", url, "--token", "LSCOR", "--timeout", "0.3"),
        "none",
        f"TIMEOUT: no complete answer from {url} within 0.3 s",
        exit_code=3,
    )


def test_a_password_in_the_url_is_never_printed(
    port_nobody_listens_on: int, send_test: SendTest
) -> None:
    url = f"http://hook:pa55word-in-url@127.0.0.1:{port_nobody_listens_on}/api/mlflow/registered"
    run = send_test("--url", url, "--token", "LSCOR")
    assert run.exit_code == 3
    assert "pa55word-in-url" not in run.out + run.err
    assert f"{MASK}@127.0.0.1:{port_nobody_listens_on}" in run.out


def shown_request(run: Run) -> tuple[dict[str, str], bytes]:
    """The headers and the exact body bytes a run printed."""
    lines = run.out.splitlines()
    end = lines.index("  body:")
    headers = dict(line.strip().split(": ", 1) for line in lines[1:end])
    return headers, lines[end + 1].removeprefix("  ").encode("utf-8")


def test_by_default_the_nested_body_goes_out_exactly_as_the_sdks_cli_sends_it(
    site: RunningStubSite, send_test: SendTest
) -> None:
    run = send_test(
        "--url", site.webhook_url, "--token", "LSCOR", "--show-request",
        "--model-version", "7", "--metric-name", "auroc",
        "--state-url", site.state_url_template,
    )  # fmt: skip
    assert run.exit_code == 0, run.out
    headers, body = shown_request(run)
    assert set(headers) == {"Content-Type", "X-Hokusai-Signature"}  # no event, no key
    assert contracts.verify(body, headers["X-Hokusai-Signature"], SHARED_SECRET)
    payload = contracts.validate_payload(body)
    assert contracts.payload_shape(payload) is contracts.Shape.V2
    assert payload["model"]["id"] == "lscor"
    assert (payload["model"]["status"], payload["model"]["version"]) == ("registered", "7")
    assert payload["model"]["primary_metric"] == "auroc"
    assert payload["timestamp"].endswith("Z") and "." not in payload["timestamp"]
    assert site.token("LSCOR")["status"] == "REGISTERED"


def test_the_summary_line_names_the_shape_sent(site: RunningStubSite, send_test: SendTest) -> None:
    nested = send_test("--url", site.webhook_url, "--token", "LSCOR")
    flat = send_test("--url", site.webhook_url, "--token", "OTHER", "--shape", "v1")
    nested_words = "model.id 'lscor', model 'send-test model' version 1, nested v2 as the SDK's CLI"
    assert f"for token LSCOR, {nested_words} sends it" in nested.out
    assert "for token OTHER, model 'send-test model' version 1, flat v1" in flat.out


def test_show_request_prints_the_exact_signed_bytes_of_the_flat_body(
    site: RunningStubSite, send_test: SendTest
) -> None:
    run = send_test(
        "--url", site.webhook_url, "--token", "LSCOR", "--show-request", "--shape", "v1",
        "--model-name", "Modèle de scoring", "--model-version", "7",
        "--metric-name", "auroc", "--baseline-value", "0.81",
    )  # fmt: skip
    assert run.exit_code == 0
    headers, body = shown_request(run)
    assert {"X-Hokusai-Event", "X-Hokusai-Idempotency-Key"} <= set(headers)
    assert contracts.verify(body, headers["X-Hokusai-Signature"], SHARED_SECRET)
    payload = contracts.validate_payload(body)
    assert (payload["model_name"], payload["model_version"]) == ("Modèle de scoring", "7")
    assert (payload["metric_name"], payload["baseline_value"]) == ("auroc", 0.81)


def test_a_secret_with_a_trailing_newline_is_warned_about_and_never_printed(
    site: RunningStubSite, send_test: SendTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SHARED_SECRET + "\n")
    run = send_test("--url", site.webhook_url, "--token", "LSCOR", "--show-request")
    assert run.exit_code == 1
    assert "whitespace or a newline" in run.err
    assert "result: SIGNATURE_REJECTED:" in run.out


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("--url", "localhost:8000", "--token", "LSCOR"), "is not an http(s) URL"),
        (("--url", "http://127.0.0.1:9/", "--token", "LS_COR"), "--token: token id"),
        (
            ("--url", "http://127.0.0.1:9/", "--token", "LSCOR", "--state-url", "http://h/t/X"),
            "has no {token_id} in it",
        ),
        (("--url", "http://127.0.0.1:9/", "--token", "LSCOR", "--timeout", "0"), "--timeout"),
        (
            (
                "--url",
                "http://127.0.0.1:9/",
                "--token",
                "LSCOR",
                "--shape",
                "v1",
                "--baseline-value",
                "nan",
            ),
            "baseline_value",
        ),
        (
            ("--url", "http://127.0.0.1:9/", "--token", "LSCOR", "--baseline-value", "0.8"),
            "--baseline-value is a field of the flat v1 body only: pass --shape v1 with it",
        ),
        (
            ("--url", "http://127.0.0.1:9/", "--token", "LSCOR", "--model-version", "v2"),
            "$.model.version",
        ),
        (
            ("--url", "http://127.0.0.1:9/", "--token", "LSCOR", "--shape", "v3"),
            "--shape: invalid choice: 'v3'",
        ),
    ],
)
def test_bad_options_are_usage_errors_that_say_what_to_fix(
    send_test: SendTest, args: tuple[str, ...], complaint: str
) -> None:
    run = send_test(*args)
    assert run.exit_code == 2
    assert complaint in run.err
    assert run.out == ""


def test_a_missing_secret_variable_sends_nothing(send_test: SendTest) -> None:
    run = send_test(
        "--url", "http://127.0.0.1:9/", "--token", "LSCOR", "--secret-env", "NO_SUCH_VARIABLE"
    )
    assert run.exit_code == 2
    assert "NO_SUCH_VARIABLE is not set" in run.err


def commands_in(steps: tuple[str, ...]) -> list[str]:
    commands = [step for step in steps if step.startswith("hokusai-contract ")]
    assert len(commands) == 2, steps
    return commands


def test_the_suggested_commands_are_accepted_by_the_cli() -> None:
    parser = build_parser()
    for command in commands_in(signature_next_steps(RECEIVER)):
        program, *args = shlex.split(command)
        assert program == "hokusai-contract"
        parsed = parser.parse_args(args)
        assert parsed.handler is not None, command


# --- the interpretation alone (pure) --------------------------------------------------------


def answer(status: int, **body: object) -> Answer:
    return Answer(status, json.dumps(body).encode("utf-8"))


@pytest.mark.parametrize(
    ("received", "outcome"),
    [
        (answer(200, success=True, duplicate=False), Outcome.ACCEPTED),
        (answer(200, success=True, duplicate=True), Outcome.ACCEPTED_DUPLICATE),
        (answer(200, success=False, error="token is locked"), Outcome.UNEXPECTED),
        (answer(202, success=True, queued=True), Outcome.ACCEPTED_LATER),
        (Answer(202, b""), Outcome.ACCEPTED_LATER),
        (answer(202, success=False, error="x"), Outcome.UNEXPECTED),
        (Answer(200, b"<html>welcome</html>"), Outcome.UNEXPECTED),
        (answer(200, ok=True), Outcome.UNEXPECTED),
        (answer(401, success=False, error="x", reason="mismatch"), Outcome.SIGNATURE_REJECTED),
        (
            answer(401, success=False, error="x", reason="timestamp_outside_tolerance"),
            Outcome.REPLAY_REFUSED,
        ),
        (Answer(500, b'{"success":false,"error":"Webhook secret not configured"}'),
         Outcome.SECRET_NOT_CONFIGURED),
        (answer(401, success=False, error="webhook secret not configured"),
         Outcome.SECRET_NOT_CONFIGURED),
        (answer(401, success=False, error="Missing or invalid signature: check the secret"),
         Outcome.SIGNATURE_REJECTED),
        (answer(404, success=False, error="Token not found", reason="token_not_found"),
         Outcome.UNKNOWN_TOKEN),
        (answer(404, error="Token not found"), Outcome.UNEXPECTED),
        (Answer(404, b"<html>not found</html>"), Outcome.UNEXPECTED),
        (answer(500, success=False, error="boom"), Outcome.UNEXPECTED),
        (answer(404, success=False, error="x", reason="unknown_token"), Outcome.UNKNOWN_TOKEN),
        (answer(404, success=False, error="x", reason="unknown_path"), Outcome.UNEXPECTED),
        (answer(400, success=False, error="$.status", reason="schema_violation"),
         Outcome.INVALID_PAYLOAD),
        (answer(413, success=False, error="x"), Outcome.TOO_LARGE),
        (answer(405, success=False, error="x"), Outcome.METHOD_NOT_ALLOWED),
        (Answer(302, b""), Outcome.UNEXPECTED),
        (Answer(502, b"<html>bad gateway</html>"), Outcome.UNEXPECTED),
    ],
)  # fmt: skip
def test_each_answer_maps_to_its_outcome(received: Answer, outcome: Outcome) -> None:
    assert interpret(received, RECEIVER).outcome is outcome


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("missing_header", "x-mlflow-signature"),
        ("malformed_header", "without the 'sha256=' prefix"),
        ("mismatch", "a trailing newline or space counts"),
    ],
)
def test_a_rejected_signature_is_explained_by_its_reason(reason: str, words: str) -> None:
    verdict = interpret(answer(401, success=False, error="x", reason=reason), RECEIVER)
    assert words in verdict.explanation
    assert verdict.next_steps == signature_next_steps(RECEIVER)


@given(status=st.integers(100, 599), body=st.binary(max_size=200))
def test_any_answer_gets_a_verdict_and_only_2xx_is_acceptance(status: int, body: bytes) -> None:
    verdict = interpret(Answer(status, body), RECEIVER)
    assert verdict.explanation
    if verdict.outcome.accepted:
        assert 200 <= status < 300


def test_a_200_that_is_not_the_contract_answer_points_at_the_path() -> None:
    receiver = Receiver("http://127.0.0.1:8000/", SHARED_SECRET, "LSCOR")
    interpretation = interpret(Answer(200, b"<html>welcome</html>"), receiver)
    assert interpretation.outcome is Outcome.UNEXPECTED
    assert PATH_HINT in interpretation.next_steps


def test_deeply_nested_json_in_an_answer_is_read_as_not_json() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    assert interpret(Answer(404, nested), RECEIVER).outcome is Outcome.UNEXPECTED
    assert read_token_state("http://h/api/tokens/LSCOR", Answer(200, nested)).status is None


STATE_URL = "http://127.0.0.1:8000/api/tokens/LSCOR"


@pytest.mark.parametrize(
    ("status", "body", "state"),
    [
        (200, b'{"token_id":"LSCOR","status":"REGISTERED"}', "REGISTERED"),
        (200, b'{"status":"registered"}', "REGISTERED"),
        (200, b'{"status":"DRAFT"}', "DRAFT"),
        (200, b'{"token":{"status":"REGISTERED"}}', None),
        (200, b"<html></html>", None),
        (404, b'{"status":"REGISTERED"}', None),
    ],
)
def test_the_token_state_is_read_only_from_a_top_level_status(
    status: int, body: bytes, state: str | None
) -> None:
    reading = read_token_state(STATE_URL, Answer(status, body))
    assert reading.status == state
    assert reading.registered is (state == "REGISTERED")
    assert (reading.problem is None) is (state is not None)


@given(
    secret=st.text(min_size=1).filter(lambda s: s.strip() and not set(s) & set(MASK)),
    around=st.text(),
)
def test_redaction_hides_the_secret_wherever_it_appears(secret: str, around: str) -> None:
    line = redact_text(around + secret + around, secrets=[secret])
    assert secret not in line
    assert MASK in line


def test_a_token_in_the_url_user_is_never_printed(
    port_nobody_listens_on: int, send_test: SendTest
) -> None:
    url = f"http://ghp_token1234@127.0.0.1:{port_nobody_listens_on}/api/mlflow/registered"
    run = send_test("--url", url, "--token", "LSCOR")
    assert run.exit_code == 3
    assert "ghp_token1234" not in run.out + run.err


def test_a_token_in_the_url_query_is_never_printed(
    site: RunningStubSite, port_nobody_listens_on: int, send_test: SendTest
) -> None:
    state_url = site.state_url_template + "?api_key=st4te-key-in-query"
    accepted = send_test(
        "--url", site.webhook_url + "?token=S3CRET-in-query&v=1", "--token", "LSCOR",
        "--state-url", state_url,
    )  # fmt: skip
    dead = f"http://127.0.0.1:{port_nobody_listens_on}/api/mlflow/registered?sig=S3CRET-in-query"
    refused = send_test("--url", dead, "--token", "LSCOR")
    assert accepted.exit_code == 0 and refused.exit_code == 3
    assert f"sent: POST {site.webhook_url}?token={MASK}&v=1" in accepted.out
    assert f"?api_key={MASK}" in accepted.out
    assert "/api/mlflow/registered?sig=*** (connection refused)" in refused.out
    for run in (accepted, refused):
        assert "S3CRET" not in run.out + run.err and "st4te" not in run.out + run.err


# --- handlers that register after answering, or refuse with 200 -----------------------------


def test_a_queued_delivery_is_accepted_later_and_the_state_is_read_until_registered(
    send_test: SendTest,
) -> None:
    with running_handler("queue-answers-202", SHARED_SECRET, ["LSCOR"]) as handler:
        run = send_test(
            "--url", handler.webhook_url, "--token", "LSCOR",
            "--state-url", handler.state_url_template,
        )  # fmt: skip
    assert run.exit_code == 0, run.out
    assert "answer: 202" in run.out
    assert "result: ACCEPTED_LATER: the receiver accepted the delivery for later processing" in (
        run.out
    )
    assert "status is REGISTERED: confirmed" in run.out


def test_a_200_before_the_token_is_registered_is_confirmed_once_it_is(send_test: SendTest) -> None:
    with running_handler("queue-answers-200", SHARED_SECRET, ["LSCOR"]) as handler:
        run = send_test(
            "--url", handler.webhook_url, "--token", "LSCOR",
            "--state-url", handler.state_url_template,
        )  # fmt: skip
    assert run.exit_code == 0, run.out
    assert "status is REGISTERED: confirmed" in run.out


def test_a_refusal_sent_as_200_is_told_to_use_its_status(send_test: SendTest) -> None:
    with running_handler("refusals-as-200", OTHER_SECRET, ["LSCOR"]) as handler:
        run = send_test("--url", handler.webhook_url, "--token", "LSCOR")
    assert run.exit_code == 1
    assert "result: UNEXPECTED: the receiver refused the delivery (success false) but answered" in (
        run.out
    )
    assert "senders take any 2xx as delivered and never retry" in run.out
    assert "  answer every refusal with its 4xx or 5xx status" in run.out
