"""Webhook URLs: which are usable, and how one is shown without its credentials."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.urls import http_url_problem, redact_text, redacted_url, url_secrets


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
            "https://example.com/hook?token=S3CRET&model=a",
            "https://example.com/hook?token=***&model=a",
        ),
        (
            "https://example.com/hook?v=2&API_KEY=S3CRET;sig=S3CRET2",
            "https://example.com/hook?v=2&API_KEY=***;sig=***",
        ),
        (
            "https://example.com/hook?access_token=S3CRET#x-Signature=S3CRET2",
            "https://example.com/hook?access_token=***#x-Signature=***",
        ),
        ("https://example.com/hook?Password=&page=2", "https://example.com/hook?Password=&page=2"),
        (
            "https://u:p@example.com/hook?client_secret=S3CRET",
            "https://***@example.com/hook?client_secret=***",
        ),
        ("example.com/hook?auth=S3CRET", "example.com/hook?auth=***"),
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


NAMES = st.sampled_from(
    ["token", "key", "secret", "sig", "signature", "password", "auth", "passwd", "session"]
)
PLAIN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._", min_size=1, max_size=12)
"""Names and values of the URL around a secret: lower case, nothing percent-encoded."""
ELSEWHERE = set("abcdefghijklmnopqrstuvwxyz0123456789-._*:/?#[]@!$&'()+,;=% \t\n\r\f\v")
SECRETS = st.text(min_size=1).filter(lambda s: any(c not in ELSEWHERE for c in s))
"""A secret always holds a character found nowhere else in the URL or the text around it
(encoded, it holds ``%`` or ``+``, found nowhere else either), so finding it in the redacted
text can only mean it leaked."""


@st.composite
def credential_names(draw: st.DrawFn) -> str:
    """``token``, ``api_key``, ``X-Access-Token``, ``clientSecret``...: any case, any affixes."""
    name = draw(NAMES)
    name = "".join(c.upper() if draw(st.booleans()) else c for c in name)
    return (
        draw(st.sampled_from(["", "api_", "x-access-", "client"]))
        + name
        + draw(st.sampled_from(["", "_id", "2"]))
    )


@st.composite
def urls_with_a_secret(draw: st.DrawFn) -> tuple[str, str]:
    """A URL holding ``secret`` in its user info or in a credential-like query value."""
    secret = draw(SECRETS)
    encode = draw(st.sampled_from([lambda s: quote(s, safe=""), lambda s: quote_plus(s)]))
    where = draw(st.sampled_from(["password", "user", "query", "fragment"]))
    host = draw(PLAIN) + ".example"
    user_info = {"password": f"{draw(PLAIN)}:{encode(secret)}@", "user": f"{encode(secret)}@"}
    before = [f"{draw(PLAIN)}={draw(PLAIN)}" for _ in range(draw(st.integers(0, 2)))]
    after = [f"{draw(PLAIN)}={draw(PLAIN)}" for _ in range(draw(st.integers(0, 2)))]
    parameter = "&".join([*before, f"{draw(credential_names())}={encode(secret)}", *after])
    query = f"?{parameter}" if where == "query" else f"?{'&'.join(before) or 'v=1'}"
    fragment = f"#{parameter}" if where == "fragment" else ""
    url = f"https://{user_info.get(where, '')}{host}/{draw(PLAIN)}{query}{fragment}"
    return url, secret


@given(urls_with_a_secret())
def test_no_secret_in_user_info_or_query_survives_redaction(case: tuple[str, str]) -> None:
    url, secret = case
    for shown in (redacted_url(url), redacted_url(url, drop_user_info=True)):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            assert form not in shown


AROUND = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ")


@given(urls_with_a_secret(), AROUND, AROUND)
def test_no_secret_of_a_url_survives_in_a_text_quoting_it(
    case: tuple[str, str], before: str, after: str
) -> None:
    url, secret = case
    path_and_query = url[url.index("/", len("https://")) :]
    text = f"{before} POST {url} failed {after}; Max retries exceeded with url: {path_and_query}"
    shown = redact_text(text, url)
    for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
        assert form not in shown


def test_a_url_quoted_in_a_text_is_shown_redacted_and_plain_secrets_are_masked() -> None:
    url = "https://hook:pa55@example.com/hook?token=S3CRET&v=1"
    text = f"GET {url} failed: 'hook:pa55@example.com' said /hook?token=S3CRET and w3bh00k"
    assert redact_text(text, url, secrets=["w3bh00k\n"]) == (
        "GET https://***@example.com/hook?token=***&v=1 failed: '***@example.com' said "
        "/hook?token=*** and ***"
    )


def test_names_that_do_not_look_like_credentials_keep_their_values() -> None:
    url = "https://example.com/hook?model=churn&version=3&page=2#top"
    assert redacted_url(url) == url
    assert url_secrets(url) == []


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
    ("url", "secrets"),
    [
        ("https://user:s3cr3t@example.com/hook", ["user:s3cr3t", "s3cr3t"]),
        ("https://ghp_TOKEN@example.com/hook", ["ghp_TOKEN"]),
        ("https://example.com/hook?key=a%2Fb+c", ["a%2Fb+c", "a/b c", "a/b+c"]),
        ("https://example.com/hook", []),
    ],
)
def test_the_secrets_of_a_url_are_its_user_info_password_and_credential_values(
    url: str, secrets: list[str]
) -> None:
    assert url_secrets(url) == secrets
