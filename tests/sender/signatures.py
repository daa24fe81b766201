"""What MLflow itself holds as a version's signature, read by another road than the sender's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY_API_SCHEMA = {
    "inputSchema": {
        "type": "object",
        "properties": {
            "lead_id": {"type": "string"},
            "visits": {"type": "integer"},
            "spend": {"type": "number"},
            "opted_in": {"type": "boolean"},
        },
        "required": ["lead_id", "visits", "spend"],
    },
    "outputSchema": {
        "type": "object",
        "properties": {"score": {"type": "number"}},
        "required": ["score"],
    },
}
"""The API schema of the tiny model's signature, written out by hand."""


def logged_signature(mlflow_client: Any, run_id: str, folder: Path) -> dict[str, Any] | None:
    """The signature in the ``MLmodel`` file the run logged under ``model/``, as
    ``ModelSignature.to_dict()`` gives it (``None`` when it has none)."""
    from mlflow.models import Model

    folder.mkdir(parents=True, exist_ok=True)
    path = mlflow_client.download_artifacts(run_id, "model/MLmodel", str(folder))
    signature = Model.load(path).signature
    return None if signature is None else dict(signature.to_dict())
