"""One real MLflow server per module, its webhooks allowed to reach the bridge on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.bridge.suite import Rig


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, hokusai_tiny_model_dir: Path) -> Iterator[Rig]:
    """A tracking server of this module's own (started with the loopback webhook settings),
    a folder, and the tiny model to register."""
    from contracts.sender import running_mlflow_server

    with running_mlflow_server(tmp_path_factory.mktemp("bridge-mlflow")) as server:
        yield Rig(
            server.tracking_uri, tmp_path_factory.mktemp("bridge-rig"), hokusai_tiny_model_dir
        )
