"""``check-receiver``'s settings kept in a file: ``hokusai-contract.toml``, else the
``[tool.hokusai-contract]`` table of ``pyproject.toml``, in the current folder.

The file names the receiver under test: its URL, tokens, state URL and the NAME of the variable
holding the secret; never the secret itself, which stays in the environment (or ``.env``).
Flags override the file, and the file overrides the defaults. A mistake in the file is one
line naming the file, the key and what to do, with its own exit code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.cli.options import CommandError, is_variable_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same parser, published for older Pythons
    import tomli as tomllib

CONFIG_FILE = "hokusai-contract.toml"
PYPROJECT_FILE = "pyproject.toml"
TOOL_TABLE = "hokusai-contract"
EXIT_CONFIG = 4
"""The settings file could not be used."""

TEXT_KEYS = ("url", "token", "state-url", "secret-env")
LIST_KEYS = ("also-urls", "spare-tokens")
KNOWN_KEYS = ("url", "also-urls", "token", "spare-tokens", "state-url", "secret-env")


class ConfigFileError(CommandError):
    """The settings file cannot be used; the message names it and the key at fault."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_CONFIG)


@dataclass(frozen=True)
class FileSettings:
    """What a settings file holds, and where it was read (``None``: no file was found)."""

    source: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        return value if isinstance(value, str) else None

    def texts(self, key: str) -> list[str]:
        value = self.values.get(key)
        return list(value) if isinstance(value, list) else []


def read_file_settings(folder: Path | None = None) -> FileSettings:
    """The settings in ``folder`` (default: the current one): ``hokusai-contract.toml`` when it
    exists, else ``pyproject.toml``'s ``[tool.hokusai-contract]``, else none."""
    folder = folder or Path.cwd()
    own = folder / CONFIG_FILE
    if own.is_file():
        return FileSettings(CONFIG_FILE, _checked(_parsed(own), CONFIG_FILE))
    pyproject = folder / PYPROJECT_FILE
    if not pyproject.is_file():
        return FileSettings()
    tool = _parsed(pyproject).get("tool")
    if not isinstance(tool, dict) or TOOL_TABLE not in tool:
        return FileSettings()
    where = f"{PYPROJECT_FILE} [tool.{TOOL_TABLE}]"
    table = tool[TOOL_TABLE]
    if not isinstance(table, dict):
        raise ConfigFileError(f"{where} must be a table of settings; write [tool.{TOOL_TABLE}]")
    return FileSettings(where, _checked(table, where))


def _parsed(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            document: dict[str, Any] = tomllib.load(file)
            return document
    except OSError as error:
        raise ConfigFileError(
            f"{path.name} cannot be read ({error.strerror or error}); fix it or remove it"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigFileError(f"{path.name} is not valid TOML ({error}); fix it") from None


def _checked(table: dict[str, Any], where: str) -> dict[str, Any]:
    """``table`` when every key is known and of its type; else an error naming the key."""
    for key, value in table.items():
        dashed = key.replace("_", "-")
        if dashed != key and dashed in KNOWN_KEYS:
            raise ConfigFileError(f"{where}: unknown key {key!r}; write it {dashed}")
        if "secret" in key.lower() and key != "secret-env":
            raise ConfigFileError(
                f"{where}: {key!r} would put the secret itself in a file; keep the secret in an "
                "environment variable (or .env) and name that variable with secret-env"
            )
        if key not in KNOWN_KEYS:
            raise ConfigFileError(
                f"{where}: unknown key {key!r}; the known keys are {', '.join(KNOWN_KEYS)}"
            )
        if key in TEXT_KEYS and not isinstance(value, str):
            raise ConfigFileError(f"{where}: {key} must be a string, in quotes")
        if key == "secret-env" and not is_variable_name(value):
            raise ConfigFileError(
                f"{where}: secret-env takes the NAME of an environment variable (letters, digits "
                "and _), not the secret itself; export the secret and name its variable"
            )
        if key in LIST_KEYS and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            raise ConfigFileError(f'{where}: {key} must be a list of strings, such as ["A"]')
    return dict(table)
