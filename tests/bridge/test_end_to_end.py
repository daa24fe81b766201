"""The bridge against a real MLflow server and the stub site: each proof of the bridge suite."""

from __future__ import annotations

import pytest

from contracts.bridge import suite
from contracts.bridge.suite import Rig
from contracts.conformance.results import Verdict

pytestmark = pytest.mark.mlflow


def _proves(rig: Rig, check_id: str) -> None:
    check = next(check for check in suite.BRIDGE_CHECKS if check.check_id == check_id)
    finding = check.run(rig)
    assert finding.verdict is Verdict.PASS, f"{finding.why}\nfix: {finding.fix}"


def test_a_plain_mlflow_client_version_tagged_at_creation_turns_its_token_registered(
    rig: Rig,
) -> None:
    _proves(rig, "bridge-tagged-at-creation")


def test_a_version_tagged_after_creation_turns_its_token_registered(rig: Rig) -> None:
    _proves(rig, "bridge-tagged-later")


def test_both_events_of_one_version_give_one_transition_and_a_duplicate(rig: Rig) -> None:
    _proves(rig, "bridge-one-transition")


def test_mlflows_test_event_is_answered_2xx_and_changes_nothing(rig: Rig) -> None:
    _proves(rig, "bridge-test-event")


def test_a_forged_stale_or_missing_signature_is_refused_401_and_changes_nothing(
    rig: Rig,
) -> None:
    _proves(rig, "bridge-forged-or-stale")


def test_a_bridge_killed_while_the_site_is_down_loses_nothing_after_a_catch_up(
    rig: Rig,
) -> None:
    _proves(rig, "bridge-killed-catch-up")
