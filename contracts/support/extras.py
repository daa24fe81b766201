"""Which optional extra of ``hokusai-contracts`` a command needs, and whether it is installed.

The extras are read from the installed package's own metadata (the ``[project.optional-
dependencies]`` of ``pyproject.toml``), so this module never keeps a second list of them: an
extra is installed when every distribution it names, through the extras it includes, is.
A command checks its extra before it does any work, so that a missing package costs one line
naming the extra to install, not a half-done run and a traceback.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import metadata

DISTRIBUTION = "hokusai-contracts"
_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?[^;]*"
    r"(?:;\s*(?P<marker>.*))?$"
)
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["'](?P<extra>[^"']+)["']""")


class MissingExtra(Exception):
    """A command's extra is not (fully) installed; the message says which and how to get it."""

    def __init__(self, extra: str, missing: str) -> None:
        super().__init__(
            f"this command needs the '{extra}' extra ({missing} is not installed); install it "
            f"with: pip install 'hokusai-contracts[{extra}]'"
        )
        self.extra = extra
        self.missing = missing


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def extra_requirements(extra: str) -> tuple[str, ...]:
    """The distributions ``extra`` installs, through the extras it includes (``()`` when the
    package's metadata cannot be read, as in a source tree that was never installed)."""
    try:
        lines = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return ()
    wanted, seen, names = [extra], set(), []
    while wanted:
        current = wanted.pop()
        if current in seen:
            continue
        seen.add(current)
        for line in lines:
            match = _REQUIREMENT.match(line)
            marker = _EXTRA_MARKER.search((match and match["marker"]) or "")
            if match is None or marker is None or marker["extra"] != current:
                continue
            if _normalized(match["name"]) == DISTRIBUTION:
                wanted += [name.strip() for name in (match["extras"] or "").split(",") if name]
            elif match["name"] not in names:
                names.append(match["name"])
    return tuple(names)


def missing_from(extra: str) -> str | None:
    """The first distribution of ``extra`` that is not installed, or ``None``."""
    for name in extra_requirements(extra):
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            return name
    return None


def require_extra(extra: str | None) -> None:
    """Raise :class:`MissingExtra` unless every distribution of ``extra`` is installed."""
    if extra is None:
        return
    missing = missing_from(extra)
    if missing is not None:
        raise MissingExtra(extra, missing)
