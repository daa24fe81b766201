"""``check-receiver`` leaves nothing in the folder it runs in: Hypothesis' files go to the cache."""

from __future__ import annotations

from pathlib import Path

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
