"""The tracking server helper: a real ``mlflow server``, and nothing left running afterwards."""

from __future__ import annotations

import os
import sqlite3
import urllib.request
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from contracts.sender.mlflow_server import (
    CACHE_ENV,
    DATABASE_FILE,
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


def processes_mentioning(text: str) -> list[int]:
    """Ids of the processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.mlflow
def test_a_started_server_answers_and_leaves_no_process_behind(tmp_path: Path) -> None:
    workdir = tmp_path / "own-server"

    with running_mlflow_server(workdir) as server:
        with urllib.request.urlopen(server.tracking_uri + "/health", timeout=5) as answer:
            assert answer.status == 200
        group = server.pid
        assert len(members_of_group(group)) >= 2  # the CLI and its uvicorn worker

    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
    assert members_of_group(group) == []
    assert processes_mentioning(str(workdir)) == []


def test_a_server_not_healthy_in_time_is_killed_and_its_log_quoted(tmp_path: Path) -> None:
    workdir = tmp_path / "slow-server"

    with pytest.raises(MlflowServerError) as raised:
        start_mlflow_server(workdir, startup_timeout=0.2)

    assert "did not answer" in str(raised.value)
    assert str(workdir / "mlflow-server.log") in str(raised.value)
    assert processes_mentioning(str(workdir)) == []


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
