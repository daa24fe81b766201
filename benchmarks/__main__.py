"""``python -m benchmarks`` (``make bench``): every figure beside its baseline, in one run.

Prints a table and writes ``reports/bench.json`` with the machine the figures came from.
``--quick`` takes fewer rounds and skips the contract-test and set-up timings; ``--only
setup`` (``make bench BENCH=setup``) takes the set-up figures alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks import contract_test, core, receiver, setup
from benchmarks.machine import machine_info
from benchmarks.results import Report, render_markdown, render_table

DEFAULT_OUTPUT = Path("reports/bench.json")
PARTS = ("core", "receiver", "contract-test", "setup")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure the signer, verifier, validator, stub receiver and contract test "
        "beside their baselines in one run; print a table and write a JSON report.",
        epilog="example:\n  python -m benchmarks --quick",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds; skip the contract-test timing"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"where to write the JSON report (default: {DEFAULT_OUTPUT})",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="also print the figures as a Markdown table"
    )
    parser.add_argument(
        "--skip-receiver", action="store_true", help="skip the HTTP receiver load test"
    )
    parser.add_argument(
        "--only",
        choices=PARTS,
        default=None,
        help="take only this part's figures (make bench BENCH=PART); setup (a fresh clone "
        "through make contract-test, a warm make contract-test, the size of each extra) takes "
        "a minute or two",
    )
    return parser


def _progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def run(quick: bool, skip_receiver: bool, only: str | None = None) -> Report:
    """Take every measurement (or ``only`` one part's); the cheap, CPU-bound figures first."""
    report = Report(machine=machine_info(), mode="quick" if quick else (only or "full"))
    rounds = 5 if quick else 15

    def wanted(part: str) -> bool:
        return only is None or only == part

    if wanted("core"):
        _progress("signing and verifying")
        report.add(core.signing_figures(rounds))
        report.sections["verify_profile"] = core.verify_profile(calls=20_000 if quick else 200_000)
        _progress("validating payloads")
        report.add(core.validation_figures(rounds))
    if wanted("receiver") and not skip_receiver:
        _progress("stub receiver over HTTP")
        figures, section = receiver.receiver_figures(quick=quick)
        report.add(figures)
        report.sections["receiver"] = section
        report.sections["receiver_profile"] = receiver.stub_profile()
    if quick:
        report.notes.append("quick run: contract-test and set-up timings skipped, fewer rounds")
    else:
        if wanted("contract-test"):
            _progress("make contract-test (its own subprocess)")
            figures, section = contract_test.contract_test_figures()
            report.add(figures)
            report.sections["contract_test"] = section
        if wanted("setup"):
            _progress("set-up: a fresh clone through make contract-test, then each extra")
            figures, sections = setup.setup_figures()
            report.add(figures)
            report.sections.update(sections)
            report.notes.append(f"set-up: uv cache {sections['setup']['uv_cache']}")
    report.notes.extend(_missed_goals(report))
    return report


_WHERE_THE_TIME_GOES = {
    "signing": "sections.verify_profile",
    "receiver": "sections.receiver_profile",
}


def _missed_goals(report: Report) -> list[str]:
    """One line per goal not met: by how much, and where the report shows the cost."""
    notes = []
    for figure in report.figures:
        if figure.goal is None or figure.goal_met:
            continue
        where = _WHERE_THE_TIME_GOES.get(figure.group)
        notes.append(
            f"goal not met: {figure.group} {figure.name}: {figure.ratio:.2f}x where the goal "
            f"is {figure.goal.description}" + (f"; see {where} in the JSON report" if where else "")
        )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    report = run(quick=args.quick, skip_receiver=args.skip_receiver, only=args.only)
    print(render_table(report.figures))
    if args.markdown:
        print()
        print(render_markdown(report.figures))
    machine = report.machine
    print(
        f"\nmachine: {machine['cpu_model']}, {machine['usable_cores']} usable cores, "
        f"Python {machine['python']}, {machine['date']}"
    )
    for note in report.notes:
        print(f"note: {note}")
    report.write(args.output)
    print(f"report written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
