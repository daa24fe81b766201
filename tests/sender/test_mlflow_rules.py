"""The sender's up-front MLflow rules agree with a real MLflow server, case by case."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from contracts.payload import run_id_from_model_uri
from contracts.sender.registry import (
    MLFLOW_TAG_KEY_LIMIT,
    MLFLOW_TAG_VALUE_LIMIT,
    mlflow_name_problem,
    mlflow_tag_problem,
)

pytestmark = pytest.mark.mlflow

UNIQUE = uuid.uuid4().hex[:8]

NAMES = [
    f"scoring model {UNIQUE}.v2 (final)",
    f"mod\u00e8le {UNIQUE}",
    "   ",
    f"team/model {UNIQUE}",
    f"team:model {UNIQUE}",
    ".",
    f"..model {UNIQUE}",
]

TAGS = [
    ("k" * MLFLOW_TAG_KEY_LIMIT, "v"),
    ("k" * (MLFLOW_TAG_KEY_LIMIT + 1), "v"),
    ("team:owner/x y.z-w_\u00e9", "v"),
    ("bad\nkey", "v"),
    ("tag!", "v"),
    ("team/../x", "v"),
    ("/absolute", "v"),
    ("trailing/", "v"),
    ("note", "x" * MLFLOW_TAG_VALUE_LIMIT),
    ("note", "x" * (MLFLOW_TAG_VALUE_LIMIT + 1)),
]


def mlflow_takes(call: Any) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        call()
    except MlflowException:
        return False
    return True


def test_a_model_name_is_refused_up_front_exactly_when_mlflow_refuses_it(
    hokusai_mlflow_client: Any,
) -> None:
    verdicts = []
    for name in NAMES:
        taken = mlflow_takes(lambda name=name: hokusai_mlflow_client.create_registered_model(name))
        if taken:
            hokusai_mlflow_client.delete_registered_model(name)
        verdicts.append((name, mlflow_name_problem(name) is None, taken))

    assert [verdict for verdict in verdicts if verdict[1] != verdict[2]] == []
    assert {taken for _, _, taken in verdicts} == {True, False}


def test_a_model_version_tag_is_refused_up_front_exactly_when_mlflow_refuses_it(
    hokusai_mlflow_client: Any, hokusai_tiny_model_uri: str
) -> None:
    model_name = f"tag rules {UNIQUE}"
    hokusai_mlflow_client.create_registered_model(model_name)
    run_id = run_id_from_model_uri(hokusai_tiny_model_uri)
    verdicts = []
    for key, value in TAGS:
        taken = mlflow_takes(
            lambda key=key, value=value: hokusai_mlflow_client.create_model_version(
                model_name, hokusai_tiny_model_uri, run_id, tags={key: value}
            )
        )
        verdicts.append((key[:20], len(value), mlflow_tag_problem(key, value) is None, taken))

    assert [verdict for verdict in verdicts if verdict[2] != verdict[3]] == []
    assert {taken for *_, taken in verdicts} == {True, False}
