"""The README's code for schema consumers runs as written: the Python example with the core
alone, the JavaScript one against clients/node; both use only public names."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import contracts
from tests.docs.markdown import REPO, fenced_blocks, read, section

README = "README.md"
PYTHON = "Python"
JAVASCRIPT = "JavaScript and other languages"


def example(language: str, heading: str) -> str:
    (block,) = fenced_blocks(section(read(README), heading), language)
    return block


def test_the_python_example_runs_as_written() -> None:
    exec(compile(example("python", PYTHON), README, "exec"), {})


def test_the_python_example_uses_only_public_names() -> None:
    tree = ast.parse(example("python", PYTHON))
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "contracts"
    }
    assert used and used <= set(contracts.__all__)


DRIVER = """
import { sign } from "%(client)s";
import { readDelivery } from "./example.mjs";

const body = Buffer.from(process.argv[2], "utf8");
const outcome = (header) => {
  try {
    return { token: readDelivery(body, header).token_id };
  } catch (error) {
    return { error: `${error.name}: ${error.message}` };
  }
};
console.log(JSON.stringify({
  accepted: outcome(sign(body, process.env.WEBHOOK_SECRET)),
  wrongSecret: outcome(sign(body, "another secret")),
}));
"""


def run_javascript_example(tmp_path: Path, body: bytes) -> dict[str, dict[str, str]]:
    client = (REPO / "clients" / "node" / "src" / "index.js").as_uri()
    source = example("js", JAVASCRIPT)
    runnable = source.replace("'@hokusai/contracts'", f"'{client}'")
    assert runnable != source, "the example no longer imports '@hokusai/contracts'"
    (tmp_path / "example.mjs").write_text(runnable, encoding="utf-8")
    (tmp_path / "driver.mjs").write_text(DRIVER % {"client": client}, encoding="utf-8")
    run = subprocess.run(
        ["node", "driver.mjs", body.decode("utf-8")],
        cwd=tmp_path,
        env={**os.environ, "WEBHOOK_SECRET": "readme secret"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, dict[str, str]] = json.loads(run.stdout)
    return result


NODE = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


@NODE
def test_the_javascript_example_accepts_a_signed_valid_delivery_and_refuses_another_secret(
    tmp_path: Path,
) -> None:
    payload = contracts.build_payload(
        token_id="LSCOR", model_name="m", model_version=4, metric_name="a", baseline_value=0.5
    )
    outcome = run_javascript_example(tmp_path, contracts.serialize(payload))
    assert outcome["accepted"] == {"token": "LSCOR"}
    assert outcome["wrongSecret"] == {"error": "Error: 401 mismatch"}


@NODE
def test_the_javascript_example_refuses_an_invalid_body_naming_the_field(tmp_path: Path) -> None:
    payload = contracts.build_payload(
        token_id="LSCOR", model_name="m", model_version=4, metric_name="a", baseline_value=0.5
    )
    del payload["metric_name"]
    outcome = run_javascript_example(tmp_path, json.dumps(payload).encode())
    assert re.match(r"PayloadError: .*metric_name", outcome["accepted"]["error"])
