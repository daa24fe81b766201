"""The README stays a front page that tells the truth: its first screen gives the two commands
and what they need, as the Makefile and the package metadata say; its contract table agrees
with schemas/; each reader's quick start uses commands, targets and fixtures that exist and
links to the page with the rest; and it carries no measured figure."""

from __future__ import annotations

import json
import re

import pytest

import contracts
import contracts.pytest_plugin
from tests.docs.commands import assert_cli_accepts, calls_of
from tests.docs.markdown import REPO, code_spans, fenced_blocks, read, relative_links, section

README = "README.md"
CONTRACT = "The contract in one screen"
SDK = "Quick start: the SDK's CI"
WEBSITE = "Quick start: the website team"
CONSUMERS = "Quick start: reading the contract from code"
FIRST_SCREEN_LINES = 30
pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def readme() -> str:
    return read(README)


def opening(readme: str) -> str:
    """The text before the first section, its whitespace made single spaces."""
    return " ".join(readme.split("\n## ", 1)[0].split())


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", read("Makefile"), re.MULTILINE))


def make_rule(target: str) -> str:
    (rule,) = re.findall(rf"^{re.escape(target)}:(.*)$", read("Makefile"), re.MULTILINE)
    return rule


# --- the first screen -------------------------------------------------------------------------


def test_the_first_screen_gives_the_two_commands(readme: str) -> None:
    first_screen = "\n".join(readme.splitlines()[:FIRST_SCREEN_LINES])
    (block,) = fenced_blocks(first_screen, "sh")
    assert calls_of("make", block) == [["contract-test"], ["test"]]


def test_both_commands_set_themselves_up_from_the_lock_file(readme: str) -> None:
    makefile = read("Makefile")
    sync = re.search(r"^UV_SYNC = (.*\n(?:\t.*\n)*)", makefile, re.MULTILINE)
    assert sync is not None
    assert "sync" in sync.group(1) and "--frozen" in sync.group(1)
    assert "pip install" in sync.group(1) and "command -v uv" in sync.group(1)
    for stamp, extra in (("$(STAMP)", "harness"), ("$(DEV_STAMP)", "dev")):
        install = re.search(rf"^{re.escape(stamp)}: (.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
        assert install is not None, stamp
        assert "uv.lock" in install.group(1).split(), stamp
        assert f"$(UV_SYNC) --extra {extra}" in install.group(2), stamp
    # the commands install what they need, the tests the tools as well
    assert "$(STAMP)" in make_rule("contract-test").split()
    assert "$(DEV_STAMP)" in make_rule("test").split()
    assert (REPO / "uv.lock").is_file()
    said = opening(readme)
    for words in ("`uv.lock`", "`uv` on your `PATH`", "pip-installed into `.venv`"):
        assert words in said, words


def test_the_requirements_stated_are_the_packages_own(readme: str) -> None:
    said = opening(readme)
    python = re.findall(r'^requires-python = "([^"]+)"$', read("pyproject.toml"), re.MULTILINE)
    node = json.loads(read("clients/node/package.json"))["engines"]["node"]
    assert python == [">=3.10"] and "Python 3.10 or newer" in said
    assert node == ">=20" and "Node.js 20 or newer" in said


# --- the contract -----------------------------------------------------------------------------


def rows(text: str) -> dict[str, str]:
    return {
        cells[0]: cells[1]
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("| item")
        for cells in [line.strip("| ").split(" | ", 1)]
    }


def test_the_body_row_names_every_field_in_the_schemas_order(readme: str) -> None:
    body = rows(section(readme, CONTRACT))["body"]
    named = [code for code in code_spans(body) if code in contracts.SCHEMA["properties"]]
    assert named == list(contracts.SCHEMA["properties"])


def test_the_answers_row_gives_exactly_the_status_codes_of_the_openapi_document(
    readme: str,
) -> None:
    answers = rows(section(readme, CONTRACT))["answers"]
    operation = contracts.OPENAPI["paths"][contracts.DEFAULT_PATH]["post"]
    assert set(re.findall(r"\b[1-5]\d\d\b", answers)) == {str(c) for c in operation["responses"]}


def test_the_headers_named_are_the_contracts(readme: str) -> None:
    said = section(readme, CONTRACT)
    for header in (
        contracts.SIGNATURE_HEADER,
        contracts.EVENT_HEADER,
        contracts.IDEMPOTENCY_KEY_HEADER,
    ):
        assert f"`{header}" in said, header
    assert f"`{contracts.SIGNATURE_HEADER}: {contracts.SIGNATURE_PREFIX}<hex>`" in said


# --- the quick starts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "pages"),
    [
        (CONTRACT, {"docs/contract.md"}),
        (SDK, {"docs/sdk.md", "examples/ci/sdk-contract-test.yml"}),
        (
            WEBSITE,
            {
                "docs/check-receiver.md",
                "docs/stub-site.md",
                "examples/ci/website-check-receiver.yml",
            },
        ),
        (CONSUMERS, {"docs/python-api.md", "clients/node/README.md"}),
    ],
)
def test_each_section_links_to_the_pages_with_the_rest(
    readme: str, heading: str, pages: set[str]
) -> None:
    assert pages <= set(relative_links(section(readme, heading)))


def test_every_page_under_docs_is_linked_from_the_readme(readme: str) -> None:
    pages = {f"docs/{path.name}" for path in (REPO / "docs").glob("*.md")}
    assert pages <= set(relative_links(readme))


def test_every_relative_link_in_the_readme_exists(readme: str) -> None:
    for target in relative_links(readme):
        assert (REPO / target).exists(), target


def test_every_command_in_the_readme_is_accepted_by_the_cli(readme: str) -> None:
    calls = [
        args
        for block in fenced_blocks(readme, "sh")
        for args in calls_of("hokusai-contract", block)
    ]
    assert {args[0] for args in calls} == {
        "check-receiver",
        "check-sender",
        "send-test",
        "diagnose",
    }
    inline = [command for command in code_spans(readme) if command.startswith("hokusai-contract ")]
    for args in calls + [command.split()[1:] for command in inline]:
        assert_cli_accepts(args, README)


def test_every_make_target_in_the_readme_exists(readme: str) -> None:
    shown = {
        args[0] for block in fenced_blocks(readme, "sh") for args in calls_of("make", block)
    } | set(re.findall(r"`make ([a-z-]+)`", readme))
    assert {"contract-test", "test", "lint", "bench", "soak"} <= shown
    assert shown <= makefile_targets()


def test_the_plugin_example_asks_only_for_the_plugins_fixtures(readme: str) -> None:
    (example,) = fenced_blocks(section(readme, SDK), "python")
    (signature,) = re.findall(r"^def test_\w+\(([^)]*)\)", example, re.MULTILINE)
    for fixture in (name.strip() for name in signature.split(",")):
        assert hasattr(contracts.pytest_plugin, fixture), fixture
        assert fixture not in contracts.pytest_plugin.RENAMED_FIXTURES, f"{fixture} is deprecated"


SENDER = """
import requests

import contracts


def notify_website(url, secret, token_id):
    payload = contracts.build_payload(
        token_id=token_id, model_name="m", model_version=1, metric_name="a", baseline_value=1
    )
    delivery = contracts.signed_delivery(payload, secret)
    requests.post(url, data=delivery.body, headers=delivery.headers, timeout=10)
"""


@pytest.mark.parametrize(("secret", "outcome"), [("secret", "passed"), ("'another'", "failed")])
def test_the_plugin_example_passes_only_when_the_sender_keeps_the_contract(
    readme: str, pytester: pytest.Pytester, secret: str, outcome: str
) -> None:
    (example,) = fenced_blocks(section(readme, SDK), "python")
    pytester.makepyfile(
        my_sdk=SENDER.replace(
            "delivery = contracts.signed_delivery(payload, secret)",
            f"delivery = contracts.signed_delivery(payload, {secret})",
        )
    )
    pytester.makepyfile(test_sdk="import my_sdk\n\n\n" + example)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(**{outcome: 1})


# --- figures live on docs/performance.md only -------------------------------------------------


def test_the_readme_carries_no_measured_figure(readme: str) -> None:
    measured = re.findall(
        r"\d+(?:\.\d+)?\s?(?:us|µs|ms|s|seconds|deliveries/s|/s)\b|\b\d+\.\d+x\b", readme
    )
    assert measured == [], "figures belong on docs/performance.md"
    assert "docs/performance.md" in relative_links(readme)
