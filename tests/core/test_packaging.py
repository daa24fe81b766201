"""The wheel carries the contract files, the type marker and the entry points."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import contracts

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("hokusai_contracts-*.whl")
    return zipfile.ZipFile(built)


def test_every_contract_file_is_in_the_wheel_byte_for_byte(wheel: zipfile.ZipFile) -> None:
    schemas = REPO / "schemas"
    for path in schemas.rglob("*"):
        if path.is_file():
            packaged = "contracts/_schemas/" + path.relative_to(schemas).as_posix()
            assert wheel.read(packaged) == path.read_bytes(), packaged


def test_the_wheel_is_typed_and_registers_the_command_and_the_pytest_plugin(
    wheel: zipfile.ZipFile,
) -> None:
    names = wheel.namelist()
    assert "contracts/py.typed" in names
    (entry_points,) = [name for name in names if name.endswith("entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "hokusai-contract = contracts.cli:main" in text
    assert "[pytest11]" in text and "contracts.pytest_plugin" in text


def test_the_version_is_written_once_and_the_wheel_carries_it(wheel: zipfile.ZipFile) -> None:
    project = (REPO / "pyproject.toml").read_text(encoding="utf-8").split("\n[", 2)[1]
    assert 'dynamic = ["version"]' in project
    assert not [line for line in project.splitlines() if line.startswith("version")]
    (metadata,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    assert f"\nVersion: {contracts.__version__}\n" in wheel.read(metadata).decode()
