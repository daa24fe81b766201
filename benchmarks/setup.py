"""What a first run costs: a fresh clone to a finished ``make contract-test``, a warm
``make contract-test``, and the installed size of each extra.

Each figure stands beside its goal in the same run: the fresh clone against 60 s (install
included), the warm run against 10 s, each extra's size against the ``check`` extra's 100 MB
(the others are reported beside it, without a goal). Every install is uv's, into a new
virtual environment, from uv's cache when it holds the packages: the output says whether the
cache was warm, since a cold one adds the downloads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.contract_test import parse_time_line, run_section
from benchmarks.results import Direction, Figure, Goal
from contracts.support.cache import CACHE_ENV

REPOSITORY = Path(__file__).resolve().parents[1]
EXTRAS = ("core", "check", "receiver", "sender", "bridge", "harness", "dev")
"""``core`` is the package alone; every other is ``hokusai-contracts[extra]``."""
FRESH_CLONE_SECONDS = 60.0
WARM_SECONDS = 10.0
CHECK_MEGABYTES = 100.0
FRESH_CLONE_GOAL = Goal(Direction.AT_MOST, 1.0, "a fresh clone through make contract-test in 60 s")
WARM_GOAL = Goal(Direction.AT_MOST, 1.0, "a warm make contract-test in 10 s")
CHECK_SIZE_GOAL = Goal(Direction.AT_MOST, 1.0, "the check extra in 100 MB")
_MAKE_TIMEOUT_S = 900
_INSTALL_TIMEOUT_S = 600


def uv_executable() -> str | None:
    """uv on PATH, else the one beside this interpreter (the dev set installs it)."""
    beside = Path(sys.executable).with_name("uv")
    return shutil.which("uv") or (str(beside) if beside.is_file() else None)


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (hard links counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            status = os.lstat(os.path.join(root, name))
            if (status.st_dev, status.st_ino) not in seen:
                seen.add((status.st_dev, status.st_ino))
                total += status.st_size
    return total


@dataclass(frozen=True)
class Installed:
    """One extra installed into a fresh virtual environment."""

    extra: str
    python: Path
    seconds: float
    megabytes: float
    from_cache: bool


def install_extra(
    extra: str,
    folder: Path,
    uv: str,
    *,
    others: Sequence[str] = (),
    fall_back_online: bool = False,
) -> Installed:
    """``uv venv`` then ``uv pip install`` of this checkout with ``extra`` (``core``: the
    package alone) and ``others``, from uv's cache only; with ``fall_back_online``, from the
    index when the cache lacks a package. Raises CalledProcessError."""
    started = time.perf_counter()
    subprocess.run([uv, "venv", "--quiet", str(folder)], check=True, timeout=_INSTALL_TIMEOUT_S)
    python = folder / "bin" / "python"
    target = str(REPOSITORY) if extra == "core" else f"{REPOSITORY}[{extra}]"
    command = [uv, "pip", "install", "--quiet", "--python", str(python), target, *others]
    offline = subprocess.run(
        [*command, "--offline"], timeout=_INSTALL_TIMEOUT_S, capture_output=True, check=False
    )
    from_cache = offline.returncode == 0
    if not from_cache:
        if not fall_back_online:
            raise subprocess.CalledProcessError(offline.returncode, command, stderr=offline.stderr)
        subprocess.run(command, check=True, timeout=_INSTALL_TIMEOUT_S, capture_output=True)
    seconds = time.perf_counter() - started
    return Installed(extra, python, seconds, folder_bytes(folder) / 1e6, from_cache)


def extra_size_figures(uv: str) -> tuple[list[Figure], dict[str, Any]]:
    """Each extra installed afresh: its size, the ``check`` extra against 100 MB."""
    figures, section = [], {}
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-extras-") as folder:
        for extra in EXTRAS:
            installed = install_extra(extra, Path(folder) / extra, uv, fall_back_online=True)
            offline = installed.from_cache
            section[extra] = {
                "megabytes": round(installed.megabytes, 1),
                "install_seconds": round(installed.seconds, 2),
                "from_cache_only": offline,
            }
            figures.append(
                Figure(
                    group="setup",
                    name=f"installed size, [{extra}]"
                    if extra != "core"
                    else "installed size, core",
                    candidate=f"uv venv + uv pip install '.[{extra}]'"
                    if extra != "core"
                    else "uv venv + uv pip install .",
                    baseline="100 MB (the check extra's goal)",
                    unit="MB",
                    candidate_value=installed.megabytes,
                    baseline_value=CHECK_MEGABYTES,
                    goal=CHECK_SIZE_GOAL if extra == "check" else None,
                    note=f"installed in {installed.seconds:.1f} s"
                    + ("" if offline else ", downloads included"),
                )
            )
    return figures, section


_NOT_PASSED_ON = ("VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "UV_PROJECT_ENVIRONMENT")
"""This run's own environment and make settings, which the clone must not inherit."""


def _make_contract_test(
    checkout: Path, cache: Path
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """``make contract-test`` in ``checkout`` (reports in its ``reports/``), with ``cache`` as
    this package's cache folder (the migrated MLflow template lives there): its wall time and
    what it printed."""
    environment = {k: v for k, v in os.environ.items() if k not in _NOT_PASSED_ON}
    environment[CACHE_ENV] = str(cache)
    started = time.perf_counter()
    completed = subprocess.run(
        ["make", "--no-print-directory", "-C", str(checkout), "contract-test"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=_MAKE_TIMEOUT_S,
        check=False,
    )
    return time.perf_counter() - started, completed


def contract_test_figures(uv: str | None) -> tuple[list[Figure], dict[str, Any]]:
    """A fresh clone of this repository through ``make contract-test`` (install included),
    then ``make contract-test`` again in that clone, warm."""
    cache = uv_cache_state(uv)
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-clone-") as folder:
        checkout = Path(folder) / "clone"
        started = time.perf_counter()
        subprocess.run(
            ["git", "clone", "--quiet", "--no-hardlinks", str(REPOSITORY), str(checkout)],
            check=True,
            timeout=_MAKE_TIMEOUT_S,
        )
        cloned_s = time.perf_counter() - started
        # A cache folder of its own: the first run migrates MLflow's database as a first run
        # on a machine does, and the warm run finds the template that run kept.
        first_s, first = _make_contract_test(checkout, Path(folder) / "cache")
        warm_s, warm = _make_contract_test(checkout, Path(folder) / "cache")
        venv_mb = folder_bytes(checkout / ".venv") / 1e6 if (checkout / ".venv").is_dir() else 0.0
    fresh_s = cloned_s + first_s
    section = {
        "uv_cache": cache,
        "clone_seconds": round(cloned_s, 2),
        "venv_megabytes": round(venv_mb, 1),
        "fresh": run_section(first_s, first),
        "warm": run_section(warm_s, warm),
    }
    figures = [
        _seconds_against_goal(
            "fresh clone to a finished make contract-test",
            "git clone + make contract-test",
            fresh_s,
            (FRESH_CLONE_SECONDS, FRESH_CLONE_GOAL),
            f"install included; uv cache {cache}; MLflow's database migrated in the run; "
            f"exit {first.returncode}",
        ),
        _seconds_against_goal(
            "warm make contract-test",
            "make contract-test, installed",
            warm_s,
            (WARM_SECONDS, WARM_GOAL),
            _critical_words(warm) + f"; exit {warm.returncode}",
        ),
    ]
    return figures, section


def _seconds_against_goal(
    name: str, candidate: str, seconds: float, goal: tuple[float, Goal], note: str
) -> Figure:
    """A time beside the number of seconds its goal allows."""
    allowed, held_to = goal
    return Figure(
        group="setup",
        name=name,
        candidate=candidate,
        baseline=f"{allowed:g} s goal",
        unit="s",
        candidate_value=seconds,
        baseline_value=allowed,
        goal=held_to,
        note=note,
    )


def _critical_words(completed: subprocess.CompletedProcess[str]) -> str:
    split, path = parse_time_line(completed.stdout)
    return "critical path: " + " + ".join(f"{name} {split[name]:.1f} s" for name in path)


def uv_cache_state(uv: str | None) -> str:
    """``warm`` when uv's cache already holds unpacked packages, else ``cold`` (or ``no uv``:
    the Makefile then pip-installs uv first)."""
    if uv is None:
        return "no uv on PATH"
    found = subprocess.run(
        [uv, "cache", "dir"], capture_output=True, text=True, check=False, timeout=60
    )
    cache = Path(found.stdout.strip())
    warm = found.returncode == 0 and any(cache.glob("archive-*/*"))
    return "warm" if warm else "cold"


def setup_figures() -> tuple[list[Figure], dict[str, Any]]:
    """Every set-up figure: the fresh clone, the warm run, and the size of each extra."""
    uv = uv_executable()
    figures, section = contract_test_figures(uv)
    if uv is not None:
        sizes, section["extras"] = extra_size_figures(uv)
        figures += sizes
    else:
        section["extras"] = "uv not found: sizes not measured"
    return figures, {"setup": section}
