"""docs/contract.md cannot drift from schemas/: every field, header and status code is on the
page, and every concrete example on it (payload, signed request, recipes) is checked here."""

from __future__ import annotations

import base64
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import contracts
from contracts.envelope import MAX_BODY_BYTES
from contracts.schema import load_json
from tests.docs.commands import assert_cli_accepts
from tests.docs.markdown import (
    REPO,
    code_spans,
    fenced_blocks,
    read,
    relative_links,
    section,
    table_rows,
)

PAGE = "docs/contract.md"
ANSWERS_HEADING = "The receiver's answers"
BODY_HEADING = "The v1 body (flat)"
V2_BODY_HEADING = "The v2 body (nested)"
SENDERS_HEADING = "Which sender sends what, and why receivers must accept both"
SIGNATURE_CASES = load_json("vectors/signatures.v1.json")["cases"]
V2_SCHEMA: dict[str, Any] = load_json("model_registered.v2.schema.json")


@pytest.fixture(scope="module")
def page() -> str:
    return read(PAGE)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def openapi_header_names() -> set[str]:
    """Header parameters, header security schemes and response headers of the OpenAPI document."""
    names = {node["name"] for node in _walk(contracts.OPENAPI) if node.get("in") == "header"}
    for node in _walk(contracts.OPENAPI):
        if isinstance(node.get("headers"), dict):
            names.update(node["headers"])
    return names


def openapi_status_codes() -> set[str]:
    return {
        str(code)
        for node in _walk(contracts.OPENAPI)
        if isinstance(node.get("responses"), dict)
        for code in node["responses"]
    }


def case_body(case: dict[str, Any]) -> bytes:
    if "body_base64" in case:
        return base64.b64decode(case["body_base64"])
    return str(case["body"]).encode("utf-8")


def test_the_readme_links_to_the_contract_page() -> None:
    assert f"]({PAGE})" in section(read("README.md"), "The contract in one screen")


def test_every_schema_field_is_on_the_page(page: str) -> None:  # v1
    missing = [name for name in contracts.SCHEMA["properties"] if f"| `{name}` |" not in page]
    assert not missing, f"fields in the schema but not in the field table of {PAGE}: {missing}"


def field_rows(page: str) -> dict[str, tuple[str, str]]:
    """The body's field table: field name -> (required cell, rule cell)."""
    rows = {}
    for line in section(page, BODY_HEADING).splitlines():
        match = re.match(r"^\| `(\w+)` \| ([^|]+) \| (.+?) \| .+ \|$", line)
        if match:
            rows[match.group(1)] = (match.group(2).strip(), match.group(3).strip())
    return rows


def test_the_required_column_says_exactly_what_the_schema_requires(page: str) -> None:
    rows = field_rows(page)
    assert set(rows) == set(contracts.SCHEMA["properties"])
    said_required = {name for name, (required, _) in rows.items() if required.startswith("yes")}
    assert said_required == set(contracts.SCHEMA["required"])
    for name, (required, _) in rows.items():
        nullable = "null" in contracts.SCHEMA["properties"][name].get("type", [])
        assert ("may be `null`" in required) is (nullable and name in said_required), name


_DIGITS = re.compile(r"^\^\[0-9\]\{(\d+),(\d+)\}\$$")


def stated_bounds(rule: dict[str, Any]) -> list[str]:
    """The words a field's rule cell must contain for each bound the schema sets."""
    words = []
    if "const" in rule:
        words.append(f"exactly `{rule['const']}`")
    if "maxLength" in rule:
        words.append(f"{rule.get('minLength', 0)} to {rule['maxLength']} characters")
    elif rule.get("minLength") == 1:
        words.append("not empty")
    pattern = rule.get("pattern", "")
    if pattern == "\\S":
        words.append("not only whitespace")
    digits = _DIGITS.match(pattern)
    if digits:
        words.append(f"a string of {digits.group(1)} to {digits.group(2)} digits")
    if rule.get("type") == "number":
        words.append("a finite JSON number")
    return words


def test_every_bound_the_schema_sets_is_stated_with_the_same_numbers(page: str) -> None:
    rows = field_rows(page)
    missing = {
        name: [words for words in stated_bounds(rule) if words not in rows[name][1]]
        for name, rule in contracts.SCHEMA["properties"].items()
    }
    assert {name: words for name, words in missing.items() if words} == {}
    assert stated_bounds(contracts.SCHEMA["properties"]["token_id"]) == ["1 to 64 characters"]


def test_the_tag_value_types_on_the_page_are_the_schemas(page: str) -> None:
    rule = field_rows(page)["tags"][1]
    plural = {"strings": "string", "numbers": "number", "booleans": "boolean", "`null`": "null"}
    said = {kind for word, kind in plural.items() if word in rule}
    branches = contracts.SCHEMA["properties"]["tags"]["additionalProperties"]["anyOf"]
    assert said == {branch["type"] for branch in branches}


def _token_rule_on_the_page(page: str) -> re.Pattern[str]:
    """The token id rule as the page words it, made into a regular expression."""
    rule = field_rows(page)["token_id"][1]
    words = re.search(r"(\d+) to (\d+) characters of (.+?), neither first nor last (.+?)[.;]", rule)
    assert words is not None, rule
    low, high = int(words.group(1)), int(words.group(2))
    classes = re.findall(r"`([^`]+)`", words.group(3))
    (not_at_edges,) = re.findall(r"`([^`]+)`", words.group(4))
    inner = "".join(re.escape(c) if len(c) == 1 else c for c in classes)
    edge = "".join(re.escape(c) if len(c) == 1 else c for c in classes if c != not_at_edges)
    return re.compile(rf"(?=.{{{low},{high}}}$)[{edge}](?:[{inner}]*[{edge}])?")


@given(st.text(alphabet="AZaz09-_ .", max_size=70))
def test_the_token_id_rule_in_words_accepts_what_the_schema_accepts(candidate: str) -> None:
    stated = _token_rule_on_the_page(read(PAGE))
    schema = contracts.SCHEMA["properties"]["token_id"]
    upper = candidate.upper()
    by_schema = (
        schema["minLength"] <= len(upper) <= schema["maxLength"]
        and re.search(schema["pattern"], upper) is not None
    )
    assert (stated.fullmatch(upper) is not None) is by_schema


def test_the_size_limits_on_the_page_are_the_contracts(page: str) -> None:
    (row,) = [line for line in section(page, ANSWERS_HEADING).splitlines() if "| `413` |" in line]
    described = contracts.OPENAPI["paths"]["/api/mlflow/registered"]["post"]["responses"]["413"]
    assert f"1 MiB ({MAX_BODY_BYTES:,} bytes)" in described["description"]
    assert f"at most 1 MiB ({MAX_BODY_BYTES:,} bytes) and at least 64 KiB" in row
    assert "64 KiB" in described["description"]


def test_the_page_says_reason_codes_are_optional(page: str) -> None:
    error = contracts.OPENAPI["components"]["schemas"]["Error"]
    assert "reason" not in error["required"]
    assert "the `reason` codes below are optional" in section(page, ANSWERS_HEADING)


def test_every_header_of_the_openapi_document_is_on_the_page(page: str) -> None:
    headers = openapi_header_names()
    assert {"X-Hokusai-Signature", "X-Hokusai-Event", "X-Hokusai-Idempotency-Key"} <= headers
    missing = [name for name in sorted(headers) if f"`{name}`" not in page]
    assert not missing, f"headers in openapi.yaml but not in {PAGE}: {missing}"


def test_the_answers_table_has_exactly_the_openapi_status_codes(page: str) -> None:
    on_page = set(re.findall(r"^\| `(\d{3})` \|", section(page, ANSWERS_HEADING), re.MULTILINE))
    assert on_page == openapi_status_codes()


def test_every_refusal_reason_code_is_on_the_page(page: str) -> None:
    described = contracts.OPENAPI["components"]["schemas"]["Error"]["properties"]["reason"]
    codes = re.findall(r"[a-z]+(?:_[a-z]+)+", described["description"])
    assert "no_secret_configured" in codes
    answers = section(page, ANSWERS_HEADING)
    assert [code for code in codes if f"`{code}`" not in answers] == []


def v2_violations(body: Any) -> list[str]:
    """What the v2 schema alone finds wrong with a parsed body, as JSON paths."""
    validator = Draft202012Validator(V2_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [error.json_path for error in validator.iter_errors(body)]


def test_every_example_payload_is_valid_for_its_shape(page: str) -> None:
    examples = [json.loads(example) for example in fenced_blocks(page, "json")]
    shapes = ["v1" if "token_id" in example else "v2" for example in examples]
    assert sorted(shapes) == ["v1", "v2"], f"{PAGE} shows one example body of each shape"
    for example, shape in zip(examples, shapes, strict=True):
        if shape == "v1":
            contracts.validate_payload(example)
        else:
            assert v2_violations(example) == []


def signed_request(page: str, shape: str = "v1") -> tuple[str, dict[str, str], bytes, str]:
    """The request line, headers, body bytes and example secret of the page's request of a shape."""
    requests = [block.split("\n\n", 1) for block in fenced_blocks(page, "http")]
    shapes = ["v1" if '"token_id"' in body else "v2" for _, body in requests]
    assert sorted(shapes) == ["v1", "v2"], f"{PAGE} shows one complete request of each shape"
    head, body = requests[shapes.index(shape)]
    headers = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    (secret,) = re.findall(r"example secret\s+`([^`]+)`", page)
    return head.splitlines()[0], headers, body.encode("utf-8"), secret


@pytest.mark.parametrize("shape", ["v1", "v2"])
def test_the_complete_request_is_signed_correctly(page: str, shape: str) -> None:
    _, headers, body, secret = signed_request(page, shape)
    assert headers["X-Hokusai-Signature"] == contracts.sign(body, secret)
    assert contracts.verify(body, headers["X-Hokusai-Signature"], secret)


def test_the_complete_v2_request_is_what_the_sdk_cli_sends(page: str) -> None:
    request_line, headers, body, _ = signed_request(page, "v2")
    method, path, _ = request_line.split(" ")
    assert method == "POST" and path in contracts.OPENAPI["paths"]
    assert set(headers) == {"Content-Type", contracts.SIGNATURE_HEADER}
    payload = json.loads(body)
    assert v2_violations(payload) == []
    assert body == json.dumps(payload, separators=(",", ":")).encode("utf-8")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", payload["timestamp"])


def test_the_complete_request_is_what_the_core_puts_on_the_wire(page: str) -> None:
    _, headers, body, secret = signed_request(page)
    payload = contracts.validate_payload(body)
    delivery = contracts.signed_delivery(payload, secret)
    assert delivery.body == body
    assert delivery.headers == headers


def test_the_known_answer_on_the_page_is_right(page: str) -> None:
    secret, body, header = re.findall(
        r"secret `([^`]+)` and the body `([^`]+)` give\s+`(sha256=[0-9a-f]{64})`", page
    )[0]
    assert contracts.sign(body.encode("utf-8"), secret) == header


def test_every_relative_link_on_the_page_exists(page: str) -> None:
    for target in relative_links(page):
        assert (REPO / "docs" / target).resolve().exists(), target


Recipe = Callable[..., Any]


def python_recipe(page: str) -> dict[str, Recipe]:
    (recipe,) = [block for block in fenced_blocks(page, "python") if "def sign_body" in block]
    namespace: dict[str, Any] = {}
    exec(compile(recipe, PAGE, "exec"), namespace)
    return {"sign": namespace["sign_body"], "verify": namespace["verify_signature"]}


@pytest.mark.parametrize("case", SIGNATURE_CASES, ids=[c["name"] for c in SIGNATURE_CASES])
def test_the_python_recipe_agrees_with_every_signature_vector(
    page: str, case: dict[str, Any]
) -> None:
    recipe = python_recipe(page)
    body = case_body(case)
    valid = any(recipe["verify"](body, case["header"], secret) for secret in case["secrets"])
    assert valid is case["expected"]["valid"]
    if case.get("sign_produces_header"):
        assert recipe["sign"](body, case["secrets"][0]) == case["header"]


NODE_CHECK = """
import { readFileSync } from "node:fs";
import { signBody, verifySignature } from "./recipe.mjs";

const { cases } = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = {};
for (const c of cases) {
  const body = "body_base64" in c
    ? Buffer.from(c.body_base64, "base64")
    : Buffer.from(c.body, "utf8");
  results[c.name] = {
    valid: c.secrets.some((secret) => verifySignature(body, c.header, secret)),
    signed: c.secrets.length ? signBody(body, c.secrets[0] || "unused") : null,
  };
}
console.log(JSON.stringify(results));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_javascript_recipe_agrees_with_every_signature_vector(
    page: str, tmp_path: Path
) -> None:
    (recipe,) = [block for block in fenced_blocks(page, "js") if "verifySignature" in block]
    (tmp_path / "recipe.mjs").write_text(recipe, encoding="utf-8")
    (tmp_path / "check.mjs").write_text(NODE_CHECK, encoding="utf-8")
    vectors = REPO / "schemas" / "vectors" / "signatures.v1.json"
    run = subprocess.run(
        ["node", "check.mjs", str(vectors)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    results = json.loads(run.stdout)
    for case in SIGNATURE_CASES:
        assert results[case["name"]]["valid"] is case["expected"]["valid"], case["name"]
        if case.get("sign_produces_header"):
            assert results[case["name"]]["signed"] == case["header"], case["name"]


def test_every_command_on_the_page_is_accepted_by_the_cli(page: str) -> None:
    commands = re.findall(r"`(hokusai-contract [^`]+)`", page)
    assert len(commands) >= 4
    for command in commands:
        assert_cli_accepts(shlex.split(command)[1:], PAGE)


# --- contract v2 ------------------------------------------------------------------------------


def v2_fields(
    schema: dict[str, Any] = V2_SCHEMA, prefix: str = ""
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """Every v2 field at every level: dotted name, rule, required in its object."""
    for name, rule in schema.get("properties", {}).items():
        dotted = f"{prefix}{name}"
        yield dotted, rule, name in schema.get("required", [])
        yield from v2_fields(rule, f"{dotted}.")


def v2_field_rows(page: str) -> dict[str, tuple[str, str]]:
    """The v2 field table: dotted field name -> (required cell, rule cell)."""
    rows = {}
    for line in section(page, V2_BODY_HEADING).splitlines():
        match = re.match(r"^\| `([\w.]+)` \| ([^|]+) \| (.+?) \|.*\|$", line)
        if match:
            rows[match.group(1)] = (match.group(2).strip(), match.group(3).strip())
    return rows


def test_the_v2_field_table_has_a_row_for_every_field_at_every_level(page: str) -> None:
    assert set(v2_field_rows(page)) == {name for name, _, _ in v2_fields()}


def test_the_v2_required_column_says_what_the_schema_requires_and_allows(page: str) -> None:
    rows = v2_field_rows(page)
    for name, rule, required in v2_fields():
        cell = rows[name][0]
        if rule.get("not") == {}:
            assert cell == "never", name
            continue
        assert cell.startswith("yes") is required, name
        nullable = "null" in rule.get("type", [])  # null on purpose, not "any JSON value"
        assert ("may be `null`" in cell) is nullable, name


def test_every_bound_the_v2_schema_sets_is_stated_with_the_same_numbers(page: str) -> None:
    rows = v2_field_rows(page)
    missing = {
        name: [words for words in stated_bounds(rule) if words not in rows[name][1]]
        for name, rule, _ in v2_fields()
    }
    assert {name: words for name, words in missing.items() if words} == {}
    assert stated_bounds(V2_SCHEMA["properties"]["source"]) == ["exactly `mlflow`"]


def test_the_v2_token_rule_in_words_is_the_v1_rule(page: str) -> None:
    said = v2_field_rows(page)["model.id"][1]
    v1_words = field_rows(page)["token_id"][1]
    characters = re.search(r"\d+ to \d+ characters of .+?, neither first nor last .+?`-`", v1_words)
    assert characters is not None
    assert characters.group(0).replace("`A-Z`, `0-9`", "`A-Z`, `a-z`, `0-9`") in said


def test_the_paths_on_the_page_are_the_openapi_paths(page: str) -> None:
    request = section(page, "The request")
    for path in contracts.OPENAPI["paths"]:
        assert f"`{path}`" in request, path


def test_every_timestamp_on_the_v2_sections_is_judged_as_the_page_says(page: str) -> None:
    pattern = V2_SCHEMA["properties"]["timestamp"]["pattern"]
    said = section(page, V2_BODY_HEADING) + section(page, SENDERS_HEADING)
    stamps = [span for span in code_spans(said) if re.match(r"^\d{4}-\d\d-\d\dT", span)]
    refused = [stamp for stamp in stamps if stamp.endswith("+00:00Z")]
    assert len(refused) == 1 and len(stamps) >= 4, stamps
    for stamp in stamps:
        assert (re.search(pattern, stamp) is None) is (stamp in refused), stamp


def test_the_sender_table_names_only_headers_of_the_openapi_document(page: str) -> None:
    rows = table_rows(section(page, SENDERS_HEADING))
    named = {span for row in rows for span in code_spans(row[3]) if span.startswith("X-")}
    assert named == openapi_header_names() - {contracts.SIGNATURE_HEADER}
