"""docs/stub-site.md cannot drift from the stub site: its commands parse and its token commands
run, its tables list exactly the options, refusals, endpoints, answer fields and attributes the
code has, and its Python example runs."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import contracts
from contracts.cli import main
from contracts.receiver import ReceiverConfig, RejectReason, TokenStore, running_stub_site
from contracts.receiver.testing import RunningStubSite
from tests.docs.commands import (
    assert_cli_accepts,
    calls_of,
    is_the_default,
    options_of,
    subcommand,
)
from tests.docs.markdown import (
    REPO,
    code_spans,
    fenced_blocks,
    read,
    relative_links,
    section,
    table_rows,
)

PAGE = "docs/stub-site.md"
RUNNING = "Running it"
JUDGED = "How a delivery is judged"
STATE = "Reading its state"
IN_TESTS = "In Python tests"
SECRET = "stub-site page secret"


@pytest.fixture(scope="module")
def page() -> str:
    return read(PAGE)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[RunningStubSite]:
    """A stub site that has just registered LSCOR, so every read endpoint has something to say."""
    with running_stub_site(tmp_path / "site.sqlite3", SECRET, ["LSCOR"]) as running:
        payload = contracts.build_payload(
            token_id="LSCOR", model_name="m", model_version=1, metric_name="a", baseline_value=1
        )
        delivery = contracts.signed_delivery(payload, SECRET)
        answer = requests.post(
            running.webhook_url, data=delivery.body, headers=delivery.headers, timeout=30
        )
        assert answer.status_code == 200
        yield running


def commands(page: str) -> list[list[str]]:
    return [
        args for block in fenced_blocks(page, "sh") for args in calls_of("hokusai-contract", block)
    ]


# --- the commands -----------------------------------------------------------------------------


def test_every_command_on_the_page_is_accepted_by_the_cli(page: str) -> None:
    shown = commands(page)
    assert len(shown) == 5
    for args in shown:
        assert args[0] in ("stub-site", "replay")
        assert_cli_accepts(args, PAGE)


def test_the_token_commands_on_the_page_run_as_shown(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in commands(page):
        if args[:2] == ["stub-site", "tokens"]:
            assert main(args) == 0, shlex.join(args)
    printed = capsys.readouterr().out
    listed = json.loads(printed[printed.index("\n[") :])
    assert {token["token_id"] for token in listed} == {"LSCOR", "OTHER"}


def test_make_stub_site_runs_the_first_command_on_the_page(page: str) -> None:
    recipe = next(
        line for line in read("Makefile").split("\nstub-site:", 1)[1].splitlines() if "\t" in line
    )
    assert calls_of("hokusai-contract", recipe.replace("$(BIN)/", "")) == [commands(page)[0]]
    shown = [args for block in fenced_blocks(page, "sh") for args in calls_of("make", block)]
    assert shown == [["stub-site"]]


def all_stub_site_options() -> dict[str, object]:
    options = {}
    for path in (("stub-site",), ("stub-site", "tokens", "add"), ("stub-site", "tokens", "list")):
        options.update(options_of(subcommand(*path)))
    return options


def test_the_options_table_lists_exactly_the_options_with_their_real_defaults(page: str) -> None:
    actions = options_of(subcommand("stub-site"))
    rows = [row for row in table_rows(section(page, RUNNING)) if row[0].startswith("`--")]
    listed = {code_spans(row[0])[0].split()[0]: row[1] for row in rows}
    assert set(listed) == set(all_stub_site_options())
    for option, meaning in listed.items():
        default = re.search(r"\(default `([^`]+)`", meaning)
        if default:
            assert is_the_default(actions[option], default.group(1)), option


# --- the answers ------------------------------------------------------------------------------


def refusal_rows(page: str) -> list[list[str]]:
    return [row for row in table_rows(section(page, JUDGED)) if re.match(r"\d{3}", row[1])]


def test_every_refusal_in_the_table_has_the_status_the_code_gives_it(page: str) -> None:
    rows = refusal_rows(page)
    assert rows
    for _, refusal, reasons in rows:
        status = int(refusal[:3])
        for code in code_spans(reasons):
            assert RejectReason(code).status_code == status, code


def test_the_page_names_every_refusal_reason_and_no_other(page: str) -> None:
    judged = section(page, JUDGED)
    in_table = {code for row in refusal_rows(page) for code in code_spans(row[2])}
    in_prose = set(re.findall(r"\d{3}\s+`([a-z_]+)`", judged))
    assert in_table | in_prose == {reason.value for reason in RejectReason}


def test_every_read_endpoint_is_on_the_page_and_nothing_else(
    page: str, site: RunningStubSite
) -> None:
    listed = {code_spans(row[0])[0] for row in table_rows(section(page, STATE))}
    converter = re.compile(r"<\w+:")  # <int:delivery_id> is shown as {delivery_id}
    served = {f"GET {converter.sub('<', rule.rule)}" for rule in site.app._routes.iter_rules()}
    assert {re.sub(r"\{(\w+)\}", r"<\1>", endpoint) for endpoint in listed} == served


def test_the_answer_fields_on_the_page_are_what_each_endpoint_answers(
    page: str, site: RunningStubSite
) -> None:
    (logged,) = site.deliveries()
    for endpoint, fields, _ in table_rows(section(page, STATE)):
        path = code_spans(endpoint)[0].removeprefix("GET ").replace("{token_id}", "lscor")
        path = path.replace("{delivery_id}", str(logged["id"]))
        answer = requests.get(site.base_url + path, timeout=30).json()
        entries = answer.get("deliveries", [])
        assert entries or "deliveries" not in answer, "no delivery was logged"
        keys = set(answer) | {key for entry in entries for key in entry}
        assert set(code_spans(fields)) == keys, endpoint


def test_the_success_answer_shown_has_the_keys_the_site_answers(
    page: str, site: RunningStubSite
) -> None:
    shown = re.search(r"`(\{\"success\": true, \"token_id\".*?\})`", section(page, JUDGED))
    assert shown is not None
    listed = set(json.loads(shown.group(1)))
    payload = contracts.build_payload(
        token_id="LSCOR", model_name="m", model_version=2, metric_name="a", baseline_value=1
    )
    delivery = contracts.signed_delivery(payload, SECRET)
    answer = requests.post(
        site.webhook_url, data=delivery.body, headers=delivery.headers, timeout=30
    )
    assert set(answer.json()) == listed


# --- from Python ------------------------------------------------------------------------------


def test_the_python_example_runs_as_written(page: str) -> None:
    (example,) = fenced_blocks(section(page, IN_TESTS), "python")
    exec(compile(example, PAGE, "exec"), {})


def test_the_attribute_table_lists_exactly_the_sites_public_attributes(
    page: str, site: RunningStubSite
) -> None:
    rows = table_rows(section(page, IN_TESTS))
    listed = {
        re.split(r"[ (]", code)[0]
        for row in rows
        if row[0] != "attribute"
        for code in code_spans(row[0])
    }
    assert listed == {name for name in dir(site) if not name.startswith("_")}


def test_the_store_methods_named_exist() -> None:
    store_row = next(
        row for row in table_rows(section(read(PAGE), IN_TESTS)) if row[0] == "`store`"
    )
    named = [code for code in code_spans(store_row[1]) if code != "TokenStore"]
    assert named
    for name in named:
        assert callable(getattr(TokenStore, name)), name


def test_the_options_of_running_stub_site_are_the_receiver_config_fields(page: str) -> None:
    sentence = re.search(r"the fields of `ReceiverConfig`: ([^.]+)\.", section(page, IN_TESTS))
    assert sentence is not None
    fields = {field.name for field in dataclasses.fields(ReceiverConfig)} - {"secrets"}
    assert set(code_spans(sentence.group(1))) == fields


def test_every_relative_link_on_the_page_exists(page: str) -> None:
    for target in relative_links(page):
        assert (REPO / "docs" / target).resolve().exists(), target
