"""A registered model version's API schema, read from the signature MLflow holds for it.

A v2 notification carries ``model.api_schema`` derived from the version's MLflow signature
(:func:`contracts.api_schema_from_signature`). The signature lives in the model's ``MLmodel``
file, wherever the version's files are (a run's artifacts, a logged model's): only that file
is downloaded. A version with no signature, a tensor-based one, or one that cannot be read
gives no API schema: the notification then leaves ``api_schema`` out, so the website keeps the
schema it has, rather than clearing it with ``null``.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from contracts.model_signature import SignatureFormatError, api_schema_from_signature
from contracts.payload import UNCHANGED, Unchanged
from contracts.urls import redact_text

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

MLMODEL_FILE = "MLmodel"
_log = logging.getLogger("contracts.sender")

ApiSchema = dict[str, Any] | Literal[Unchanged.UNCHANGED]
"""An API schema to send, or :data:`~contracts.UNCHANGED`: leave ``api_schema`` out."""


@dataclass(frozen=True)
class VersionApiSchema:
    """What a version's signature gives for ``model.api_schema``, and why."""

    api_schema: ApiSchema
    why: str
    """In words: which signature it came from, or why there is none to send."""


def read_signature(client: MlflowClient, version: ModelVersion) -> dict[str, Any] | None:
    """The version's signature as ``ModelSignature.to_dict()`` gives it; ``None`` without one.

    Raises ``MlflowException`` (or ``OSError``, or a YAML error) when the ``MLmodel`` file
    cannot be downloaded or read.
    """
    from mlflow.artifacts import download_artifacts
    from mlflow.models import Model

    location = client.get_model_version_download_uri(version.name, version.version)
    with tempfile.TemporaryDirectory(prefix="hokusai-signature-") as folder:
        path = download_artifacts(
            artifact_uri=f"{location.rstrip('/')}/{MLMODEL_FILE}",
            dst_path=folder,
            tracking_uri=client.tracking_uri,
        )
        signature = Model.load(path).signature
    return None if signature is None else dict(signature.to_dict())


def version_api_schema(client: MlflowClient, version: ModelVersion) -> VersionApiSchema:
    """``model.api_schema`` for ``version``: its column-based signature mapped to JSON
    Schemas, else :data:`~contracts.UNCHANGED` with the reason (never ``None``, which would
    clear the website's schema). Never raises: the notification goes out either way."""
    from mlflow.exceptions import MlflowException

    where = f"model {version.name!r} version {version.version}"
    try:
        signature = read_signature(client, version)
        schema = api_schema_from_signature(signature)
    except Exception as error:  # an unreadable MLmodel must not cost the notification
        words = error.message if isinstance(error, MlflowException) else str(error)
        words = redact_text(words, client.tracking_uri)
        if isinstance(error, SignatureFormatError):
            why = f"api_schema left out: the signature of {where} is not MLflow's ({words})"
        else:
            why = (
                f"api_schema left out: the {MLMODEL_FILE} file of {where}, which holds its "
                f"signature, could not be read ({words})"
            )
        _log.warning("%s", why)
        return VersionApiSchema(UNCHANGED, why)
    if schema is None:
        kind = "has no signature" if signature is None else "has a tensor-based signature"
        why = f"api_schema left out: {where} {kind}"
        _log.info("%s", why)
        return VersionApiSchema(UNCHANGED, why)
    return VersionApiSchema(schema, f"api_schema from the column-based signature of {where}")
