"""The tracking server helper: a real ``mlflow server``, and nothing left running afterwards."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import urllib.request
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from contracts.sender.mlflow_server import (
    CACHE_ENV,
    DATABASE_FILE,
    SERVER_ENVIRONMENT_NAMES,
    MlflowServerError,
    running_mlflow_server,
    start_mlflow_server,
    template_path,
)


def members_of_group(group: int) -> list[int]:
    """Ids of the processes in process group ``group``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[2]) == group:
                found.append(int(entry.name))
    return found


def processes_using(folder: Path) -> list[int]:
    """Ids of the processes that name ``folder`` on their command line, run in it, or hold a
    file in it open (a server's log, say): whatever a run started there and left running."""
    inside = str(folder.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            places = [os.readlink(entry / "cwd")]
            places += [os.readlink(fd) for fd in (entry / "fd").iterdir()]
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if inside in command or any(place.startswith(inside) for place in places):
            found.append(int(entry.name))
    return found


@pytest.mark.mlflow
def test_a_started_server_answers_and_leaves_no_process_behind(tmp_path: Path) -> None:
    workdir = tmp_path / "own-server"

    with running_mlflow_server(workdir) as server:
        with urllib.request.urlopen(server.tracking_uri + "/health", timeout=5) as answer:
            assert answer.status == 200
        group = server.pid
        assert members_of_group(group) != []
        assert processes_using(workdir) != []

    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
    assert members_of_group(group) == []
    assert processes_using(workdir) == []


def test_a_server_not_healthy_in_time_is_killed_and_its_log_quoted(tmp_path: Path) -> None:
    workdir = tmp_path / "slow-server"

    with pytest.raises(MlflowServerError) as raised:
        start_mlflow_server(workdir, startup_timeout=0.2)

    assert "did not answer" in str(raised.value)
    assert str(workdir / "mlflow-server.log") in str(raised.value)
    assert processes_using(workdir) == []


@pytest.mark.mlflow
def test_a_database_that_already_held_data_never_becomes_the_template(
    hokusai_mlflow_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrated = template_path()
    if not migrated.is_file():
        pytest.skip("no migrated template on this machine (the tracking server is external)")
    workdir = tmp_path / "reused-workdir"
    workdir.mkdir()
    with (
        closing(sqlite3.connect(migrated)) as source,
        closing(sqlite3.connect(workdir / DATABASE_FILE)) as database,
    ):
        source.backup(database)
        database.execute("CREATE TABLE data_of_an_earlier_run (value TEXT)")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "empty-cache"))

    with running_mlflow_server(workdir) as server:
        assert not server.from_template

    assert not template_path().exists()


def test_the_server_is_configured_through_the_variables_mlflow_server_sets() -> None:
    from mlflow.server import constants

    assert SERVER_ENVIRONMENT_NAMES == {
        "backend_store": constants.BACKEND_STORE_URI_ENV_VAR,
        "registry_store": constants.REGISTRY_STORE_URI_ENV_VAR,
        "artifact_root": constants.ARTIFACT_ROOT_ENV_VAR,
        "serve_artifacts": constants.SERVE_ARTIFACTS_ENV_VAR,
        "artifacts_destination": constants.ARTIFACTS_DESTINATION_ENV_VAR,
    }


def test_saving_the_tiny_model_where_pip_is_missing_prints_nothing(tmp_path: Path) -> None:
    # A uv-made environment has no pip: MLflow would warn that it cannot name pip's version.
    save = (
        "import pathlib, sys; sys.modules['pip'] = None; "
        "from contracts.sender import save_tiny_model; save_tiny_model(pathlib.Path(sys.argv[1]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", save, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == "" and run.stdout == ""
