"""docs/python-api.md cannot drift from ``contracts``: it documents exactly ``contracts.__all__``,
with each function's real parameters, each enum's real values and each constant's real value;
its example runs; its shell commands parse and cover every option."""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import io
import re
from contextlib import redirect_stdout

import pytest

import contracts
from tests.docs.commands import assert_cli_accepts, calls_of, options_of, subcommand
from tests.docs.markdown import (
    REPO,
    code_spans,
    fenced_blocks,
    read,
    relative_links,
    section,
    table_rows,
)

PAGE = "docs/python-api.md"
SHELL = "From the shell"
SCRIPTED = "Scripting the recording receiver: `ScriptedAnswer`"


@pytest.fixture(scope="module")
def page() -> str:
    return read(PAGE)


def api_rows(page: str) -> list[tuple[list[str], str]]:
    """(the names a row documents, as written, and its description) for every API table row."""
    rows = []
    for row in table_rows(page):
        if len(row) == 2 and row[0].startswith("`"):
            rows.append((code_spans(row[0]), row[1]))
    return rows


def name_of(written: str) -> str:
    return re.split(r"[ (]", written, maxsplit=1)[0]


def test_the_page_documents_exactly_the_public_names(page: str) -> None:
    documented = [name_of(written) for names, _ in api_rows(page) for written in names]
    assert sorted(documented) == sorted(contracts.__all__)


def test_every_function_is_shown_with_its_real_parameters_and_defaults(page: str) -> None:
    shown = [written for names, _ in api_rows(page) for written in names if "(" in written]
    assert len(shown) >= 15
    for written in shown:
        parameters = inspect.signature(getattr(contracts, name_of(written))).parameters
        inside = written[written.index("(") + 1 : written.rindex(")")]
        words = [word.strip() for word in inside.split(",") if word.strip() not in ("", "*")]
        assert [word.split("=")[0] for word in words] == list(parameters), written
        for word in words:
            if "=" in word:
                name, default = word.split("=")
                assert repr(parameters[name].default) == default, written


def test_every_enum_is_shown_with_exactly_its_values(page: str) -> None:
    enums = 0
    for names, description in api_rows(page):
        value = getattr(contracts, name_of(names[0]))
        if isinstance(value, type) and issubclass(value, enum.Enum):
            enums += 1
            assert set(code_spans(description)) >= {member.value for member in value}, names
    public_enums = [
        name
        for name in contracts.__all__
        if isinstance(getattr(contracts, name), type)
        and issubclass(getattr(contracts, name), enum.Enum)
    ]
    assert enums == len(public_enums)


def test_every_text_constant_is_shown_with_its_value(page: str) -> None:
    constants = 0
    for names, description in api_rows(page):
        for written in names:
            value = getattr(contracts, name_of(written))
            if written.isupper() and isinstance(value, str):
                constants += 1
                assert value in code_spans(description), written
    assert constants >= 6


def test_the_example_runs_as_written(page: str) -> None:
    example, _ = fenced_blocks(page, "python")
    printed = io.StringIO()
    with redirect_stdout(printed):
        exec(compile(example, PAGE, "exec"), {})
    assert printed.getvalue().startswith("invalid_character - ")


def test_the_scripted_answer_example_runs_against_a_real_recorder(page: str) -> None:
    (example,) = fenced_blocks(section(page, SCRIPTED), "python")
    exec(compile(example, PAGE, "exec"), {})


def test_the_scripted_answer_table_lists_its_fields_with_their_defaults(page: str) -> None:
    from contracts.conformance import ScriptedAnswer

    rows = [row for row in table_rows(section(page, SCRIPTED)) if row[0] != "field"]
    written = {
        code_spans(name)[0]: ast.literal_eval(code_spans(default)[0]) for name, default, _ in rows
    }
    defaults = ScriptedAnswer()
    actual = {
        field.name: getattr(defaults, field.name) for field in dataclasses.fields(ScriptedAnswer)
    }
    assert written == actual


def test_every_shell_command_is_accepted_by_the_cli(page: str) -> None:
    (block,) = fenced_blocks(section(page, SHELL), "sh")
    calls = calls_of("hokusai-contract", block)
    assert {args[0] for args in calls} == {"sign", "verify", "schema"}
    for args in calls:
        assert_cli_accepts(args, PAGE)


@pytest.mark.parametrize("command", ["sign", "verify", "schema"])
def test_every_option_of_the_shell_commands_is_on_the_page(page: str, command: str) -> None:
    shown = set(re.findall(r"--[a-z][a-z-]+", section(page, SHELL)))
    assert set(options_of(subcommand(command))) <= shown


def test_the_schema_command_names_each_document_it_prints_and_its_default(page: str) -> None:
    (which,) = [action for action in subcommand("schema")._actions if action.dest == "which"]
    (block,) = fenced_blocks(section(page, SHELL), "sh")
    (comment,) = [line.split("#", 1)[1] for line in block.splitlines() if " schema " in line]
    assert re.findall(r"[a-z]+(?= \(default\)|,| or|$)", comment.strip()) == list(which.choices)
    assert f"{which.default} (default)" in comment


def test_every_relative_link_on_the_page_exists(page: str) -> None:
    for target in relative_links(page):
        assert (REPO / "docs" / target).resolve().exists(), target
