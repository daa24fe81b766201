"""``make dist``: a wheel, an sdist and the Node.js client's tarball, of one version, each
installable without a package registry and working on its own, away from this checkout."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import contracts
from tests.docs.markdown import REPO, fenced_blocks, read, section

VERSION = contracts.__version__
OFFLINE = {"UV_OFFLINE": "1", "npm_config_offline": "true", "npm_config_audit": "false"}
"""Everything comes from the local caches: no registry is asked for anything."""


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **OFFLINE, **env},
    )
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``make dist`` built, in a folder of its own (``DIST=``)."""
    folder = tmp_path_factory.mktemp("dist") / "dist"
    here = ["-o", ".venv/.installed", f"BIN={Path(sys.executable).parent}", f"DIST={folder}"]
    run([tool("make"), "--no-print-directory", "-C", str(REPO), *here, "dist"], REPO)
    return folder


def test_the_node_package_carries_the_python_package_version() -> None:
    package = json.loads((REPO / "clients/node/package.json").read_text())
    lock = json.loads((REPO / "clients/node/package-lock.json").read_text())
    assert package["version"] == VERSION
    assert lock["version"] == lock["packages"][""]["version"] == VERSION


def test_make_dist_builds_the_wheel_the_sdist_and_the_node_tarball_of_one_version(
    dist: Path,
) -> None:
    built = sorted(path.name for path in dist.iterdir() if not path.name.startswith("."))
    assert built == [
        f"hokusai-contracts-{VERSION}.tgz",
        f"hokusai_contracts-{VERSION}-py3-none-any.whl",
        f"hokusai_contracts-{VERSION}.tar.gz",
    ]
    assert not (REPO / "clients/node/schemas").exists()  # the packing copy is gone again


def schema_files() -> set[str]:
    return {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "schemas").rglob("*")
        if path.is_file()
    }


def test_the_sdist_and_the_wheel_carry_every_contract_file(dist: Path) -> None:
    with tarfile.open(dist / f"hokusai_contracts-{VERSION}.tar.gz") as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    with zipfile.ZipFile(dist / f"hokusai_contracts-{VERSION}-py3-none-any.whl") as wheel:
        in_wheel = set(wheel.namelist())
    assert schema_files() <= in_sdist
    assert {name.replace("schemas/", "contracts/_schemas/", 1) for name in schema_files()} <= (
        in_wheel
    )


def test_the_wheel_installs_offline_into_a_fresh_venv_and_runs_there(
    dist: Path, tmp_path: Path
) -> None:
    uv = tool("uv")
    venv = tmp_path / "venv"
    run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], tmp_path)
    python = venv / "bin" / "python"
    wheel = dist / f"hokusai_contracts-{VERSION}-py3-none-any.whl"
    run([uv, "pip", "install", "--quiet", "--python", str(python), str(wheel)], tmp_path)

    version = run([str(venv / "bin" / "hokusai-contract"), "--version"], tmp_path)
    assert version.stdout.strip() == f"hokusai-contract {VERSION}"
    code = (
        "import contracts; "
        "print(contracts.schema_path()); "
        "print(contracts.validate_payload(contracts.serialize(contracts.build_payload("
        "token_id='lscor', model_name='m', model_version=1, metric_name='a', "
        "baseline_value=1)))['token_id'])"
    )
    shown = run([str(python), "-c", code], tmp_path).stdout.splitlines()
    assert Path(shown[0]).is_relative_to(venv)  # the installed copy, not this checkout's
    assert shown[1] == "LSCOR"


NODE_CHECK = """
import { sign, verify } from '@hokusai/contracts';
import { createHandler } from '@hokusai/contracts/handler';
const header = sign(Buffer.from('Hello, World!'), "It's a Secret to Everybody");
if (!verify(Buffer.from('Hello, World!'), header, "It's a Secret to Everybody").ok) process.exit(1);
if (typeof createHandler !== 'function') process.exit(1);
console.log(header);
"""


def test_the_node_tarball_installs_offline_and_works_on_its_own(dist: Path, tmp_path: Path) -> None:
    tarball = dist / f"hokusai-contracts-{VERSION}.tgz"
    with tarfile.open(tarball) as packed:
        names = set(packed.getnames())
    assert {f"package/{name}" for name in schema_files()} <= names
    assert {"package/src/index.js", "package/src/handler.js", "package/package.json"} <= names

    project = tmp_path / "consumer"
    project.mkdir()
    (project / "package.json").write_text('{"name": "consumer", "private": true}')
    run([tool("npm"), "install", "--no-fund", str(tarball)], project)
    (project / "check.mjs").write_text(NODE_CHECK)
    done = run([tool("node"), "check.mjs"], project)
    assert done.stdout.strip() == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def install_block() -> str:
    readme = read("README.md")
    (block,) = fenced_blocks(section(readme, "Installing without a package registry"), "sh")
    return block


def test_the_readmes_install_lines_name_the_files_make_dist_builds(dist: Path) -> None:
    built = {path.name for path in dist.iterdir() if not path.name.startswith(".")}
    named = set(re.findall(r"/dist/([\w.-]+(?:\.whl|\.tgz))", install_block()))
    assert named and named <= built
    node_readme = read("clients/node/README.md")
    assert set(re.findall(r"/dist/([\w.-]+\.tgz)", node_readme)) <= built


def test_the_git_url_form_of_the_readme_installs_this_repository_offline(tmp_path: Path) -> None:
    (line,) = [line for line in install_block().splitlines() if "git+" in line]
    assert re.search(r"'hokusai-contracts\[\w+\] @ git\+https://.+\.git@<tag or commit>'", line)
    git = tool("git")
    head = subprocess.run(
        [git, "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    uv = tool("uv")
    venv = tmp_path / "venv"
    run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], tmp_path)
    python = venv / "bin" / "python"
    requirement = f"hokusai-contracts @ git+{REPO.as_uri()}@{head.stdout.strip()}"
    run([uv, "pip", "install", "--quiet", "--python", str(python), requirement], tmp_path)
    shown = run([str(python), "-c", "import contracts; print(contracts.schema_path())"], tmp_path)
    assert Path(shown.stdout.strip()).is_file()
    assert Path(shown.stdout.strip()).is_relative_to(venv)
