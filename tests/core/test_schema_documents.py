"""The contract documents: one copy, loadable, valid, and consistent with each other."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
from referencing import Registry, Resource

import contracts
from contracts.schema import load_json, openapi_path, schema_path, schemas_dir

REPO = Path(__file__).resolve().parents[2]


def test_schema_is_a_valid_2020_12_schema_with_an_id() -> None:
    Draft202012Validator.check_schema(contracts.SCHEMA)
    assert contracts.SCHEMA["$id"].endswith("model_registered.v1.schema.json")


def test_every_field_has_a_description_and_an_example() -> None:
    for name, field in contracts.SCHEMA["properties"].items():
        assert field.get("description"), name
        assert field.get("examples"), name


def test_field_order_names_exactly_the_schema_fields() -> None:
    assert set(contracts.FIELD_ORDER) == set(contracts.SCHEMA["properties"])


def _nodes(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _nodes(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, f"{where}/{index}")


def test_no_schema_has_a_union_type_that_strict_ajv_refuses() -> None:
    # Ajv's strictTypes admits only ["<type>", "null"]; a wider union is written with anyOf.
    documents = [load_json(path.name) for path in sorted(schemas_dir().glob("*.json"))]
    assert len(documents) == 3
    for document in (*documents, contracts.OPENAPI):
        for where, node in _nodes(document):
            types = node.get("type")
            if isinstance(types, list):
                assert len([kind for kind in types if kind != "null"]) <= 1, where


def test_the_schema_alone_accepts_each_payload_vector_marked_so() -> None:
    # These bodies break rules the schema cannot state; the full validators refuse them.
    validator = Draft202012Validator(contracts.SCHEMA)
    marked = [
        case
        for case in load_json("vectors/payloads.v1.json")["cases"]
        if case.get("schema_alone") == "accepts"
    ]
    assert {case["beyond_schema"] for case in marked} >= {"calendar_date", "duplicate_key"}
    for case in marked:
        assert validator.is_valid(json.loads(case["body"])), case["name"]
        assert case["expected"]["valid"] is False, case["name"]


def test_openapi_document_passes_the_validator() -> None:
    spec, base_uri = read_from_filename(str(openapi_path()))
    validate(spec, base_uri=base_uri)


CURRENT_PATH = "/api/webhooks/model-registration"
SHAPE_FILES = ["model_registered.v1.schema.json", "model_registered.v2.schema.json"]


def _pointer(path: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1")


def test_the_current_path_and_the_webhook_are_the_seed_path_item() -> None:
    document = contracts.OPENAPI
    assert contracts.DEFAULT_PATH == "/api/mlflow/registered"
    assert set(document["paths"]) == {contracts.DEFAULT_PATH, CURRENT_PATH}
    shared = {"$ref": _pointer(contracts.DEFAULT_PATH)}
    assert document["paths"][CURRENT_PATH] == shared
    assert document["webhooks"] == {"modelRegistered": shared}


def test_the_request_body_is_one_of_the_two_shape_files_and_nothing_copies_them() -> None:
    document = contracts.OPENAPI
    operation = document["paths"][contracts.DEFAULT_PATH]["post"]
    assert operation["requestBody"] == {"$ref": "#/components/requestBodies/ModelRegistered"}
    body = document["components"]["requestBodies"]["ModelRegistered"]
    assert body["required"] is True
    branches = body["content"]["application/json"]["schema"]["oneOf"]
    assert [Path(branch["$ref"]).name for branch in branches] == SHAPE_FILES
    for branch in branches:
        assert (openapi_path().parent / branch["$ref"]).resolve().is_file()
    refs = [node["$ref"] for _, node in _nodes(document) if "$ref" in node]
    assert sorted(ref for ref in refs if ref.endswith(".json")) == sorted(
        "./" + name for name in SHAPE_FILES
    )


def test_the_request_body_as_openapi_reads_it_gives_each_v2_vector_its_schema_verdict() -> None:
    # The oneOf resolved the way an OpenAPI tool resolves it: relative to openapi.yaml's location.
    body = contracts.OPENAPI["components"]["requestBodies"]["ModelRegistered"]
    schema = {"$id": openapi_path().as_uri(), **body["content"]["application/json"]["schema"]}
    files = [openapi_path().parent / name for name in SHAPE_FILES]
    registry: Registry[Any] = Registry().with_resources(
        (path.as_uri(), Resource.from_contents(json.loads(path.read_text(encoding="utf-8"))))
        for path in files
    )
    validator = Draft202012Validator(schema, registry=registry)
    for case in load_json("vectors/payloads.v2.json")["cases"]:
        expected = case["expected"]["valid"] or case.get("schema_alone") == "accepts"
        if case.get("beyond_schema") == "end_of_input":
            continue  # Python's re lets $ match before a final newline
        assert validator.is_valid(json.loads(case["body"])) is expected, case["name"]


def test_the_event_and_idempotency_headers_are_optional() -> None:
    operation = contracts.OPENAPI["paths"][contracts.DEFAULT_PATH]["post"]
    parameters = contracts.OPENAPI["components"]["parameters"]
    named = {}
    for reference in operation["parameters"]:
        parameter = parameters[reference["$ref"].rsplit("/", 1)[-1]]
        named[parameter["name"]] = parameter
    assert set(named) == {contracts.EVENT_HEADER, contracts.IDEMPOTENCY_KEY_HEADER}
    assert [parameter["required"] for parameter in named.values()] == [False, False]


def test_openapi_documents_every_answer_of_the_receiver_table() -> None:
    responses = contracts.OPENAPI["paths"][contracts.DEFAULT_PATH]["post"]["responses"]
    assert set(responses) == {"200", "400", "401", "404", "405", "413", "500"}


def test_signature_is_an_api_key_security_scheme_in_the_signature_header() -> None:
    scheme = contracts.OPENAPI["components"]["securitySchemes"]["hokusaiSignature"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == (
        "apiKey",
        "header",
        contracts.SIGNATURE_HEADER,
    )


def test_the_package_reads_the_repository_copy_not_a_duplicate() -> None:
    assert schema_path().resolve() == (REPO / "schemas" / schema_path().name).resolve()
    for name in (*SHAPE_FILES, "model_registered.schema.json"):
        copies = [p for p in REPO.rglob(name) if ".venv" not in p.parts]
        assert copies == [REPO / "schemas" / name]


def test_importing_the_core_pulls_in_no_network_or_mlflow_code() -> None:
    code = (
        "import sys, contracts;"
        "contracts.sign(b'', 's'); contracts.validate_payload(contracts.SCHEMA['examples'][0]);"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('mlflow', 'requests', 'werkzeug', 'urllib3', 'http', 'yaml'));"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_pyyaml_the_core_works_and_openapi_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['yaml'] = None\n"
        "import contracts\n"
        "contracts.validate_payload(contracts.SCHEMA['examples'][0])\n"
        "try:\n"
        "    contracts.OPENAPI\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install 'hokusai-contracts[openapi]'" in result.stdout
