"""The README's Python API example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_python_api_example_runs_as_written() -> None:
    blocks = re.findall(r"```python\n(.*?)```", section("Python API"), flags=re.DOTALL)
    assert blocks, "the Python API section shows no example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


def test_every_public_name_is_documented_in_the_api_table() -> None:
    import contracts

    documented = section("Python API")
    for name in (
        "sign",
        "verify",
        "verify_or_raise",
        "normalize_token_id",
        "build_payload",
        "serialize",
        "validate_payload",
        "signed_delivery",
        "idempotency_key",
        "SCHEMA",
        "OPENAPI",
        "schema_path",
    ):
        assert f"`{name}" in documented, name
        assert hasattr(contracts, name), name
