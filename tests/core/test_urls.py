"""Webhook URLs: which are usable, and how one is shown without its credentials."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.urls import http_url_problem, redacted_url, url_secret


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:s3cr3t@example.com/hook", "https://***@example.com/hook"),
        (
            "https://ghp_TOKEN1234@example.com:8443/hook?x=1",
            "https://***@example.com:8443/hook?x=1",
        ),
        ("https://example.com/hook", "https://example.com/hook"),
        (
            "http://127.0.0.1:8000/api/mlflow/registered",
            "http://127.0.0.1:8000/api/mlflow/registered",
        ),
    ],
)
def test_credentials_of_any_kind_are_hidden(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


@given(
    user=st.text(alphabet=st.characters(blacklist_characters="@/?#"), min_size=1),
    password=st.text(alphabet=st.characters(blacklist_characters="@/?#"), min_size=1),
)
def test_no_user_or_password_survives_redaction(user: str, password: str) -> None:
    shown = redacted_url(f"https://{user}:{password}@example.com/hook")
    assert shown == "https://***@example.com/hook"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/", "does not start with http"),
        ("example.com/hook", "does not start with http"),
        ("http:///hook", "names no host"),
        ("http://example.com:99999/", "port"),
    ],
)
def test_unusable_urls_are_named_with_the_reason(url: str, problem: str) -> None:
    assert problem in (http_url_problem(url) or "")


def test_an_absolute_http_url_has_no_problem() -> None:
    assert http_url_problem("https://example.com/api/mlflow/registered") is None


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://user:s3cr3t@example.com/hook", "s3cr3t"),
        ("https://ghp_TOKEN@example.com/hook", "ghp_TOKEN"),
        ("https://example.com/hook", None),
    ],
)
def test_the_secret_part_of_a_url_is_its_password_or_a_bare_token(
    url: str, secret: str | None
) -> None:
    assert url_secret(url) == secret
