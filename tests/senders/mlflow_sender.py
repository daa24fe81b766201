"""A real sender that registers a model version in MLflow first, as the SDK's CLI does.

It logs a small pyfunc model (with a column-based signature unless told otherwise) in a new run
on the MLflow server named by MLFLOW_TRACKING_URI, registers it as a new version, and then
notifies the website with what MLflow answered (name, version, run id), through
webhook_sender.py, whose options it passes on. ``model.api_schema`` is derived from the
signature with the contract's own mapping; ``--api-schema`` and ``--claim-version`` make it send
something else, as a broken SDK would.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

import webhook_sender

MODEL_CODE = """import mlflow.models
import mlflow.pyfunc


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


mlflow.models.set_model(Echo())
"""


def arguments() -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-name", default="Sales lead scoring model")
    parser.add_argument("--signature", choices=["columns", "none"], default="columns")
    parser.add_argument("--api-schema", choices=["mapped", "absent", "null"], default="mapped")
    parser.add_argument("--claim-version", help="send this version instead of MLflow's")
    return parser.parse_known_args()


def signature(kind: str) -> object:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    if kind == "none":
        return None
    inputs = Schema(
        [
            ColSpec("long", "company_size"),
            ColSpec("string", "industry"),
            ColSpec("double", "engagement_score", required=False),
        ]
    )
    return ModelSignature(inputs, Schema([ColSpec("double", "lead_score")]))


def register(tracking_uri: str, name: str, kind: str) -> tuple[str, str, object]:
    """Log the model in a new run, register it; MLflow's version, run id and signature."""
    import mlflow.pyfunc
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    with tempfile.TemporaryDirectory() as folder:
        code = Path(folder) / "echo.py"
        code.write_text(MODEL_CODE, encoding="utf-8")
        model_dir = Path(folder) / "model"
        model_signature = signature(kind)
        here = os.getcwd()
        os.chdir(folder)  # MLflow copies a uv project it finds in the working folder: none here
        try:
            mlflow.pyfunc.save_model(
                str(model_dir),
                python_model=str(code),
                signature=model_signature,
                pip_requirements=[],
            )
        finally:
            os.chdir(here)
        run_id = client.create_run("0").info.run_id
        client.log_artifacts(run_id, str(model_dir), "model")
        client.set_terminated(run_id)
    with contextlib.suppress(MlflowException):  # registered by an earlier run: add a version
        client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run_id}/model", run_id)
    return str(version.version), run_id, model_signature


def main() -> int:
    options, passed_on = arguments()
    from contracts.model_signature import api_schema_from_signature

    version, run_id, model_signature = register(
        os.environ["MLFLOW_TRACKING_URI"], options.model_name, options.signature
    )
    mapped = api_schema_from_signature(
        model_signature.to_dict() if model_signature is not None else None  # type: ignore[attr-defined]
    )
    sent = ["--model-name", options.model_name, "--run-id", run_id]
    sent += ["--versions", options.claim_version or version]
    if options.api_schema == "mapped" and mapped is not None:
        sent += ["--api-schema", json.dumps(mapped)]
    elif options.api_schema == "null":
        sent += ["--api-schema", "null"]
    print(f"registered {options.model_name!r} version {version} in run {run_id}")
    return webhook_sender.main([*sent, *passed_on])


if __name__ == "__main__":
    sys.exit(main())
