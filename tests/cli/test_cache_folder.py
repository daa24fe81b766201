"""``check-receiver`` leaves nothing in the folder it runs in: Hypothesis' files go to the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.cli import main
from contracts.receiver.testing import RunningStubSite
from tests.cli.running import clean_environment, run_cli

SECRET = "cache folder secret 5c1e"


def test_check_receiver_keeps_hypothesis_files_in_the_cache_folder_not_the_current_one(
    tmp_path: Path, site: RunningStubSite
) -> None:
    here, cache = tmp_path / "here", tmp_path / "cache"
    here.mkdir()
    env = clean_environment(cache, WEBHOOK_SECRET=SECRET)
    run = run_cli(
        here,
        "check-receiver",
        "--url",
        site.webhook_url,
        "--token",
        "LSCOR",
        "--max-examples",
        "3",
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(path.name for path in here.iterdir()) == []
    assert (cache / "hokusai-contracts" / "hypothesis").is_dir()


def test_a_run_in_process_gives_hypothesis_its_own_folder_back(
    tmp_path: Path, site: RunningStubSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hypothesis.configuration import storage_directory

    before = storage_directory(intent_to_write=False).home_directory
    monkeypatch.delenv("HOKUSAI_CONTRACTS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CACHE_TEST_SECRET", SECRET)
    args = ["--url", site.webhook_url, "--token", "LSCOR", "--secret-env", "CACHE_TEST_SECRET"]
    assert main(["check-receiver", *args, "--max-examples", "2"]) == 0
    assert storage_directory(intent_to_write=False).home_directory == before


def test_while_the_checks_run_hypothesis_keeps_its_files_in_the_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hypothesis.configuration import storage_directory

    from contracts.conformance.schemathesis_run import hypothesis_files_in_the_cache

    monkeypatch.delenv("HOKUSAI_CONTRACTS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with hypothesis_files_in_the_cache():
        home = storage_directory(intent_to_write=False).home_directory
    assert home == tmp_path / "cache" / "hokusai-contracts" / "hypothesis"
