"""``api_schema_from_signature``: MLflow's signature dict in, the v2 ``model.api_schema`` out.

The literal dicts are what ``ModelSignature.to_dict()`` gives in MLflow 3.17; the last tests
build the signatures with the installed MLflow itself, so a change of its format shows here.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from contracts import api_schema_from_signature, build_model_payload
from contracts.model_signature import SignatureFormatError


def signature(inputs: list[dict[str, Any]] | None, outputs: Any = None) -> dict[str, Any]:
    """A signature dict as MLflow writes it: the specs as JSON text."""
    return {
        "inputs": None if inputs is None else json.dumps(inputs),
        "outputs": None if outputs is None else json.dumps(outputs),
        "params": None,
    }


LEAD_SCORE = [{"type": "double", "name": "lead_score", "required": True}]
LEAD_SCORE_SCHEMA = {
    "type": "object",
    "properties": {"lead_score": {"type": "number"}},
    "required": ["lead_score"],
}


@pytest.mark.parametrize(
    ("mlflow_type", "json_schema"),
    [
        ("string", {"type": "string"}),
        ("integer", {"type": "integer"}),
        ("long", {"type": "integer"}),
        ("float", {"type": "number"}),
        ("double", {"type": "number"}),
        ("boolean", {"type": "boolean"}),
        ("binary", {"type": "string", "format": "byte"}),
        ("datetime", {"type": "string", "format": "date-time"}),
    ],
)
def test_each_column_type_becomes_its_json_schema(
    mlflow_type: str, json_schema: dict[str, str]
) -> None:
    columns = [{"type": mlflow_type, "name": "x", "required": True}]
    api_schema = api_schema_from_signature(signature(columns, LEAD_SCORE))
    assert api_schema == {
        "inputSchema": {"type": "object", "properties": {"x": json_schema}, "required": ["x"]},
        "outputSchema": LEAD_SCORE_SCHEMA,
    }


def test_optional_columns_are_properties_but_not_required() -> None:
    columns = [
        {"type": "string", "name": "industry", "required": True},
        {"type": "long", "name": "company_size", "required": False},
        {"type": "double", "name": "engagement_score"},  # no "required": required
    ]
    input_schema = api_schema_from_signature(signature(columns))["inputSchema"]  # type: ignore[index]
    assert list(input_schema["properties"]) == ["industry", "company_size", "engagement_score"]
    assert input_schema["required"] == ["industry", "engagement_score"]


def test_unnamed_columns_are_named_by_their_position_as_mlflow_does() -> None:
    columns = [{"type": "string", "required": True}, {"type": "long", "required": False}]
    input_schema = api_schema_from_signature(signature(columns))["inputSchema"]  # type: ignore[index]
    assert input_schema == {
        "type": "object",
        "properties": {"0": {"type": "string"}, "1": {"type": "integer"}},
        "required": ["0"],
    }


@pytest.mark.parametrize(
    "given",
    [
        None,
        {},
        signature(None),
        signature([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]),
        signature(
            [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}],
            LEAD_SCORE,
        ),
    ],
    ids=["none", "empty", "no-inputs", "tensor", "tensor-inputs-column-outputs"],
)
def test_a_tensor_signature_or_none_gives_no_api_schema(given: Any) -> None:
    assert api_schema_from_signature(given) is None


@pytest.mark.parametrize(
    "outputs",
    [None, [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]],
    ids=["no-outputs", "tensor-outputs"],
)
def test_column_inputs_without_column_outputs_accept_any_output(outputs: Any) -> None:
    columns = [{"type": "string", "name": "industry", "required": True}]
    api_schema = api_schema_from_signature(signature(columns, outputs))
    assert api_schema is not None and api_schema["outputSchema"] == {}


def test_parsed_spec_lists_are_taken_as_well_as_json_text() -> None:
    columns = [{"type": "string", "name": "industry", "required": True}]
    as_text = api_schema_from_signature(signature(columns, LEAD_SCORE))
    as_lists = api_schema_from_signature({"inputs": columns, "outputs": LEAD_SCORE})
    assert as_text == as_lists


def test_nested_array_object_and_map_columns_become_nested_schemas() -> None:
    columns = [
        {"type": "array", "items": {"type": "string"}, "name": "tags", "required": True},
        {
            "type": "object",
            "properties": {
                "x": {"type": "double", "required": True},
                "y": {"type": "string", "required": False},
            },
            "name": "point",
            "required": True,
        },
        {"type": "map", "values": {"type": "long"}, "name": "counts", "required": True},
        {"type": "any", "name": "extra", "required": False},
    ]
    properties = api_schema_from_signature(signature(columns))["inputSchema"]["properties"]  # type: ignore[index]
    assert properties == {
        "tags": {"type": "array", "items": {"type": "string"}},
        "point": {
            "type": "object",
            "properties": {"x": {"type": "number"}, "y": {"type": "string"}},
            "required": ["x"],
        },
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "extra": {},
    }


@pytest.mark.parametrize(
    "given",
    [{"inputs": "not json"}, {"inputs": '{"type": "string"}'}, {"inputs": "[1, 2]"}],
)
def test_a_dict_that_is_not_mlflows_is_refused_saying_what_to_pass(given: Any) -> None:
    with pytest.raises(SignatureFormatError, match=r"ModelSignature\.to_dict"):
        api_schema_from_signature(given)


def test_a_derived_api_schema_is_valid_in_a_v2_body() -> None:
    columns = [{"type": "binary", "name": "logo"}, {"type": "datetime", "name": "seen"}]
    api_schema = api_schema_from_signature(signature(columns, LEAD_SCORE))
    payload = build_model_payload(token_id="LSCOR", model_name="m", api_schema=api_schema)
    assert payload["model"]["api_schema"] == api_schema


# --- against the installed MLflow ------------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow_schema() -> Any:
    types = pytest.importorskip("mlflow.types.schema")
    models = pytest.importorskip("mlflow.models")
    return types, models


def test_a_signature_inferred_by_mlflow_from_a_dataframe_gives_an_object_schema(
    mlflow_schema: Any,
) -> None:
    pandas = pytest.importorskip("pandas")
    _, models = mlflow_schema
    frame = pandas.DataFrame(
        {"industry": ["software"], "company_size": [120], "engagement_score": [0.7]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's hint about integer columns
        inferred = models.infer_signature(frame, pandas.DataFrame({"lead_score": [0.82]}))
    assert api_schema_from_signature(inferred.to_dict()) == {
        "inputSchema": {
            "type": "object",
            "properties": {
                "industry": {"type": "string"},
                "company_size": {"type": "integer"},
                "engagement_score": {"type": "number"},
            },
            "required": ["industry", "company_size", "engagement_score"],
        },
        "outputSchema": LEAD_SCORE_SCHEMA,
    }


def test_mlflow_optional_and_unnamed_columns_and_tensors_read_as_documented(
    mlflow_schema: Any,
) -> None:
    numpy = pytest.importorskip("numpy")
    types, models = mlflow_schema
    optional = models.ModelSignature(
        types.Schema([types.ColSpec("string", "a"), types.ColSpec("long", "b", required=False)])
    )
    unnamed = models.ModelSignature(types.Schema([types.ColSpec("string")]))
    tensor = models.ModelSignature(
        types.Schema([types.TensorSpec(numpy.dtype("float32"), (-1, 3))])
    )
    assert api_schema_from_signature(optional.to_dict()) == {
        "inputSchema": {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
            "required": ["a"],
        },
        "outputSchema": {},
    }
    unnamed_schema = api_schema_from_signature(unnamed.to_dict())
    assert unnamed_schema is not None
    assert unnamed_schema["inputSchema"]["properties"] == {"0": {"type": "string"}}
    assert api_schema_from_signature(tensor.to_dict()) is None
