"""A v2 body's ``model.api_schema``, derived from an MLflow model signature.

Pure: it reads the dict ``ModelSignature.to_dict()`` gives (``inputs`` and ``outputs`` as JSON
text of column or tensor specs, ``params``), so the core needs no MLflow. A column-based
signature becomes JSON Schemas; a tensor-based one, or none, gives no API schema at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

COLUMN_TYPES: dict[str, dict[str, str]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "long": {"type": "integer"},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "boolean": {"type": "boolean"},
    "binary": {"type": "string", "format": "byte"},
    "datetime": {"type": "string", "format": "date-time"},
}
"""MLflow's column types and the JSON Schema each becomes."""
TENSOR = "tensor"


class SignatureFormatError(ValueError):
    """The signature dict is not what ``ModelSignature.to_dict()`` gives."""


def api_schema_from_signature(signature: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``{"inputSchema", "outputSchema"}`` for a column-based signature, else ``None``.

    ``signature`` is ``ModelSignature.to_dict()`` (``ModelInfo.signature_dict``): ``inputs``
    and ``outputs`` hold the JSON text of the specs (already parsed lists are taken too).
    Each column becomes a property, required unless MLflow marks it ``"required": false``;
    a column without a name is named by its position (``"0"``, ``"1"``, ...), as MLflow's own
    ``Schema.input_names()`` does. Tensor-based inputs, or no signature or inputs at all, give
    ``None``: senders then leave ``api_schema`` out (``None`` is not "clear" here). Outputs
    that are missing or tensor-based give ``{}`` as ``outputSchema``, a schema that accepts
    any output. Raises :class:`SignatureFormatError` on specs that are not MLflow's.
    """
    if not signature:
        return None
    inputs = _specs(signature.get("inputs"), "inputs")
    if not inputs or _is_tensor(inputs):
        return None
    outputs = _specs(signature.get("outputs"), "outputs")
    output_schema = {} if not outputs or _is_tensor(outputs) else _columns_schema(outputs)
    return {"inputSchema": _columns_schema(inputs), "outputSchema": output_schema}


def _specs(value: Any, name: str) -> list[Mapping[str, Any]]:
    """The list of specs under ``name``: JSON text as ``to_dict()`` writes it, or a list."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise SignatureFormatError(
                f"signature {name} is not JSON text ({error}); pass ModelSignature.to_dict()"
            ) from None
    if not isinstance(value, Sequence) or not all(isinstance(spec, Mapping) for spec in value):
        raise SignatureFormatError(
            f"signature {name} must be a list of column or tensor specs; pass "
            "ModelSignature.to_dict()"
        )
    return list(value)


def _is_tensor(specs: list[Mapping[str, Any]]) -> bool:
    return any(spec.get("type") == TENSOR for spec in specs)


def _required(spec: Any) -> bool:
    """MLflow's rule: a column is required unless it says ``"required": false``."""
    return not (isinstance(spec, Mapping) and spec.get("required", True) is False)


def _columns_schema(columns: list[Mapping[str, Any]]) -> dict[str, Any]:
    """An object schema: one property per column, the required ones listed."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for position, column in enumerate(columns):
        name = str(column.get("name") or position)
        properties[name] = _type_schema(column)
        if _required(column):
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


def _type_schema(spec: Any) -> dict[str, Any]:
    """The JSON Schema of one column's (or nested item's) MLflow type.

    Besides the scalar types, MLflow 2.10+ has ``array`` (``items``), ``object``
    (``properties``, each required unless it says otherwise), ``map`` (``values``) and
    ``any``; a type this does not know becomes ``{}``, which accepts any value.
    """
    kind = spec.get("type") if isinstance(spec, Mapping) else None
    if isinstance(kind, str) and kind in COLUMN_TYPES:
        return dict(COLUMN_TYPES[kind])
    if kind == "array" and isinstance(spec.get("items"), Mapping):
        return {"type": "array", "items": _type_schema(spec["items"])}
    if kind == "object" and isinstance(spec.get("properties"), Mapping):
        fields = spec["properties"]
        return {
            "type": "object",
            "properties": {str(name): _type_schema(field) for name, field in fields.items()},
            "required": [str(name) for name, field in fields.items() if _required(field)],
        }
    if kind == "map" and isinstance(spec.get("values"), Mapping):
        return {"type": "object", "additionalProperties": _type_schema(spec["values"])}
    return {}
