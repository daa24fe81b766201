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

import contracts
from contracts.schema import load_json, openapi_path, schema_path

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
    for document in (contracts.SCHEMA, contracts.OPENAPI):
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


def test_openapi_request_body_and_webhook_refer_to_the_schema_file() -> None:
    document = contracts.OPENAPI
    receiver = document["paths"][contracts.DEFAULT_PATH]["post"]
    webhook = document["webhooks"]["modelRegistered"]["post"]
    for operation in (receiver, webhook):
        reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert Path(reference).name == schema_path().name


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
    copies = [p for p in REPO.rglob(schema_path().name) if ".venv" not in p.parts]
    assert copies == [REPO / "schemas" / schema_path().name]


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
