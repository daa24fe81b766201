"""The session's MLflow server (its webhooks allowed to reach the bridge on 127.0.0.1), a folder
of this module's own, and the tiny model to register."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts.bridge.suite import Rig


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory,
    hokusai_mlflow_webhook_server: Any,
    hokusai_tiny_model_dir: Path,
) -> Rig:
    """The bridge checks' rig on the session's server: every check makes its own models,
    tokens and webhook (deleted afterwards), so sharing the server changes no outcome."""
    return Rig(
        hokusai_mlflow_webhook_server.tracking_uri,
        tmp_path_factory.mktemp("bridge-rig"),
        hokusai_tiny_model_dir,
    )
