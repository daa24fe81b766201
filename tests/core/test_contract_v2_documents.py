"""Contract v2 as documents: the nested body's schema, the schema of every accepted body, the
example files and the shared vectors, all judged by a plain JSON Schema validator."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

import contracts
from contracts.schema import load_json, schemas_dir

V1_FILE = "model_registered.v1.schema.json"
V2_FILE = "model_registered.v2.schema.json"
ANY_FILE = "model_registered.schema.json"
V2: dict[str, Any] = load_json(V2_FILE)
ANY: dict[str, Any] = load_json(ANY_FILE)
SHAPES: dict[str, dict[str, Any]] = {"v1": contracts.SCHEMA, "v2": V2}
VECTORS: dict[str, Any] = load_json("vectors/payloads.v2.json")
CASES: list[dict[str, Any]] = VECTORS["cases"]
EXAMPLES = sorted((schemas_dir() / "examples").glob("*.json"))
MODEL: dict[str, Any] = V2["properties"]["model"]
API_SCHEMA: dict[str, Any] = MODEL["properties"]["api_schema"]


def _registry() -> Registry[Any]:
    resources = [(schema["$id"], Resource.from_contents(schema)) for schema in SHAPES.values()]
    return Registry().with_resources(resources)


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A plain jsonschema validator with format checking, holding both shapes by their $id."""
    return Draft202012Validator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def violation_paths(schema: dict[str, Any], instance: Any) -> list[str]:
    """JSON paths of every violation, a missing field named by its own path; sorted."""
    paths: set[str] = set()
    for error in validator(schema).iter_errors(instance):
        path = "$" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        )
        if error.validator == "required":
            missing = [name for name in error.validator_value if name not in error.instance]
            paths.update(f"{path}.{name}" for name in missing)
        else:
            paths.add(path)
    return sorted(paths)


def fields(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property at every level, by dotted name (model.api_schema.inputSchema)."""
    for name, rule in schema.get("properties", {}).items():
        dotted = f"{prefix}{name}"
        yield dotted, rule
        yield from fields(rule, f"{dotted}.")


# --- the schema files -----------------------------------------------------------------------


def test_the_v2_schema_is_a_valid_2020_12_schema_with_a_v2_id() -> None:
    Draft202012Validator.check_schema(V2)
    assert V2["$id"] == contracts.SCHEMA["$id"].replace(V1_FILE, V2_FILE)


def test_the_schema_of_every_accepted_body_refers_to_both_shape_files_by_id() -> None:
    Draft202012Validator.check_schema(ANY)
    assert ANY["$id"] == contracts.SCHEMA["$id"].replace(V1_FILE, ANY_FILE)
    assert (ANY["if"]["required"], ANY["then"]["$ref"], ANY["else"]["$ref"]) == (
        ["token_id"],
        V1_FILE,
        V2_FILE,
    )


def test_every_v2_field_at_every_level_has_a_description_and_an_example() -> None:
    for name, rule in fields(V2):
        assert rule.get("description"), name
        if rule.get("not") == {}:  # a field v2 forbids has no valid example
            continue
        assert rule.get("examples"), name


def test_every_example_in_the_v2_schema_is_valid_for_its_own_field() -> None:
    for name, rule in [("$", V2), ("model", MODEL), *fields(V2)]:
        check = validator(rule)
        for example in rule.get("examples", []):
            assert check.is_valid(example), (name, example)


def test_a_v2_body_never_has_a_top_level_token_id() -> None:
    assert V2["properties"]["token_id"]["not"] == {}
    assert "token_id" in contracts.SCHEMA["required"]


def test_model_id_follows_the_v1_token_id_rule() -> None:
    token_id = contracts.SCHEMA["properties"]["token_id"]
    model_id = MODEL["properties"]["id"]
    bounds = ("type", "minLength", "maxLength", "pattern")
    assert {key: model_id[key] for key in bounds} == {key: token_id[key] for key in bounds}


def test_the_v2_timestamp_rule_is_the_v1_rule() -> None:
    assert V2["properties"]["timestamp"] == {
        **contracts.SCHEMA["properties"]["timestamp"],
        "description": V2["properties"]["timestamp"]["description"],
        "examples": V2["properties"]["timestamp"]["examples"],
    }


def test_api_schema_is_the_only_optional_field_that_admits_null() -> None:
    optional = [name for name in MODEL["properties"] if name not in MODEL["required"]]
    nullable = [name for name in optional if validator(MODEL["properties"][name]).is_valid(None)]
    assert nullable == ["api_schema"]
    assert sorted(optional) == sorted(
        [
            "version",
            "run_id",
            "user_id",
            "api_schema",
            "eval_spec",
            "scorer_ref",
            "primary_metric",
            "benchmark_spec_id",
        ]
    )


# --- timestamps as the real senders write them ----------------------------------------------

_MOMENTS = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 30))


@given(_MOMENTS)
def test_every_timestamp_form_a_real_sender_writes_matches_and_an_aware_isoformat_z_does_not(
    moment: datetime,
) -> None:
    pattern = V2["properties"]["timestamp"]["pattern"]
    cli = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    publisher = moment.isoformat() + "Z"  # a naive UTC datetime
    aware = moment.replace(tzinfo=timezone.utc)
    assert re.search(pattern, cli)
    assert re.search(pattern, publisher)
    assert re.search(pattern, aware.isoformat())  # +00:00
    assert not re.search(pattern, aware.isoformat() + "Z")  # +00:00Z
    plus_two = aware.astimezone(timezone(timedelta(hours=2)))
    assert not re.search(pattern, plus_two.isoformat() + "Z")


# --- the example files ----------------------------------------------------------------------


def _shape_of(body: Any) -> str:
    """The website's order: a top-level token_id makes a body v1, anything else is v2."""
    return "v1" if isinstance(body, dict) and "token_id" in body else "v2"


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_every_example_file_is_valid_for_its_shape_and_for_the_schema_of_every_body(
    path: Path,
) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    shape = _shape_of(body)
    assert (".v2." in path.name) is (shape == "v2"), path.name
    assert violation_paths(SHAPES[shape], body) == []
    assert violation_paths(ANY, body) == []


def test_the_v2_examples_show_each_sender_and_the_null_api_schema() -> None:
    bodies = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in EXAMPLES}
    v2 = [body for body in bodies.values() if _shape_of(body) == "v2"]
    assert any(b["timestamp"].endswith(":01Z") and "api_schema" in b["model"] for b in v2)
    assert any(
        re.search(r"\.\d{6}Z$", b["timestamp"]) and "api_schema" not in b["model"] for b in v2
    )
    assert any(b["model"].get("api_schema", {}) is None for b in v2)


# --- the shared vectors ---------------------------------------------------------------------


def test_the_vectors_cover_both_shapes_and_name_only_known_rules() -> None:
    assert {case["shape"] for case in CASES} == {"v1", "v2"}
    assert VECTORS["shapes"] == {"v1": V1_FILE, "v2": V2_FILE}
    for case in CASES:
        assert case["shape"] == _shape_of(_parsed(case)), case["name"]
        assert case.get("beyond_schema", "calendar_date") in VECTORS["beyond_schema"]
        assert case.get("schema_alone", "accepts") == "accepts"
        assert case["expected"]["problem"] in (None, *VECTORS["problems"])
        assert ("token" in case["expected"]) is case["expected"]["valid"], case["name"]


def _parsed(case: dict[str, Any]) -> Any:
    return json.loads(case["body"])


def _schema_alone(case: dict[str, Any]) -> tuple[bool, list[str]]:
    """The verdict and paths a validator holding only the schema of the case's shape gives."""
    if case.get("schema_alone") == "accepts" or case.get("beyond_schema") == "end_of_input":
        return True, []
    return case["expected"]["valid"], case["expected"]["paths"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_schema_of_its_shape_gives_each_vector_its_verdict_and_paths(
    case: dict[str, Any],
) -> None:
    valid, paths = _schema_alone(case)
    assert violation_paths(SHAPES[case["shape"]], _parsed(case)) == paths
    assert (paths == []) is valid


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_schema_of_every_body_judges_each_vector_as_its_shape_does(
    case: dict[str, Any],
) -> None:
    body = _parsed(case)
    assert violation_paths(ANY, body) == violation_paths(SHAPES[case["shape"]], body)


def test_a_v2_body_fails_the_v1_schema_and_a_v1_body_fails_the_v2_schema() -> None:
    # The shapes exclude each other, so OpenAPI's oneOf of the two files is exact.
    for case in CASES:
        other = SHAPES["v2" if case["shape"] == "v1" else "v1"]
        assert violation_paths(other, _parsed(case)) != [], case["name"]


def test_valid_vectors_name_the_upper_cased_token_of_their_shape() -> None:
    for case in CASES:
        if case["expected"]["valid"]:
            body = _parsed(case)
            token = body["token_id"] if case["shape"] == "v1" else body["model"]["id"]
            assert case["expected"]["token"] == token.upper(), case["name"]


def test_the_end_of_input_rule_is_where_python_re_and_ecma_262_disagree() -> None:
    marked = [case for case in CASES if case.get("beyond_schema") == "end_of_input"]
    assert marked
    for case in marked:
        body = _parsed(case)
        assert body["model"]["id"].endswith("\n")
        # Python's $ matches before the final newline: plain jsonschema accepts the body.
        assert re.search(MODEL["properties"]["id"]["pattern"], body["model"]["id"])
        assert (
            re.search(MODEL["properties"]["id"]["pattern"][:-1] + r"\Z", body["model"]["id"])
            is None
        )
