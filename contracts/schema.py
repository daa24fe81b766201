"""The contract documents under ``schemas/``, loaded from the installed package.

One copy lives in the repository's ``schemas/`` folder; the wheel carries it as
``contracts/_schemas``. Everything (code, tests, stub, docs) reads it through here.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

SCHEMA_FILE = "model_registered.v1.schema.json"
V2_SCHEMA_FILE = "model_registered.v2.schema.json"
ANY_SHAPE_SCHEMA_FILE = "model_registered.schema.json"
"""The schema of every accepted body: v1 when there is a top-level ``token_id``, else v2."""
OPENAPI_FILE = "openapi.yaml"
SIGNATURE_VECTORS_FILE = "vectors/signatures.v1.json"
TOKEN_ID_VECTORS_FILE = "vectors/token_ids.v1.json"


@functools.cache
def schemas_dir() -> Path:
    """The folder holding the contract files, in an installed wheel or a source checkout."""
    packaged = resources.files("contracts") / "_schemas"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / "schemas"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        "the contract files are missing: neither contracts/_schemas (installed wheel) nor "
        "schemas/ (source checkout) exists; reinstall hokusai-contracts"
    )


def schema_path() -> Path:
    """Path of ``model_registered.v1.schema.json``, for tools in any language."""
    return schemas_dir() / SCHEMA_FILE


def openapi_path() -> Path:
    """Path of ``openapi.yaml``; its request body refers to the schema file beside it."""
    return schemas_dir() / OPENAPI_FILE


def contract_file(relative: str) -> Path:
    """Path of any file under ``schemas/``, e.g. ``vectors/signatures.v1.json``."""
    path = schemas_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(f"no contract file {relative!r} under {schemas_dir()}")
    return path


@functools.cache
def load_schema(name: str = SCHEMA_FILE) -> dict[str, Any]:
    """A body schema under ``schemas/`` (parsed once): by default the ``model_registered`` v1
    body's; :data:`V2_SCHEMA_FILE` or :data:`ANY_SHAPE_SCHEMA_FILE` for the others."""
    document: dict[str, Any] = json.loads(contract_file(name).read_text(encoding="utf-8"))
    return document


@functools.cache
def load_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the receiver (parsed once; needs PyYAML, the openapi extra)."""
    try:
        import yaml
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "contracts.OPENAPI parses schemas/openapi.yaml with PyYAML, which is not installed: "
            "pip install 'hokusai-contracts[openapi]', or read openapi_path() with any YAML "
            "parser",
            name="yaml",
        ) from None

    document: dict[str, Any] = yaml.safe_load(openapi_path().read_text(encoding="utf-8"))
    return document


def load_json(relative: str) -> Any:
    """Parse a JSON file under ``schemas/`` (vectors, examples)."""
    return json.loads(contract_file(relative).read_text(encoding="utf-8"))
