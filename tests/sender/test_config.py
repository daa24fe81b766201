"""Settings: arguments, then the environment, then ./.env (HOKUSAI_SITE_* before WEBHOOK_*);
never a secret in a repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import Shape
from contracts.sender import ConfigurationError, ModelRegistry
from contracts.sender.config import SettingSource, read_dotenv, resolve_settings


def test_a_dotenv_file_fills_what_the_environment_leaves_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "WEBHOOK_URL=https://dotenv.example/api/mlflow/registered\n"
        "WEBHOOK_SECRET='pa$$word'\n"
        "MLFLOW_TRACKING_URI=http://dotenv:5000\n"
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://environment:5000")

    settings = resolve_settings()

    assert settings.webhook_url == "https://dotenv.example/api/mlflow/registered"
    assert settings.webhook_secret == "pa$$word"
    assert settings.tracking_uri == "http://environment:5000"


@pytest.mark.parametrize("written", ["pa${HOME}word", '"pa${HOME}word"', "'pa${HOME}word'"])
def test_a_dollar_in_a_dotenv_secret_stays_a_dollar_however_it_is_quoted(
    tmp_path: Path, written: str
) -> None:
    (tmp_path / ".env").write_text(f"WEBHOOK_SECRET={written}\n")

    assert read_dotenv(tmp_path / ".env") == {"WEBHOOK_SECRET": "pa${HOME}word"}


def test_arguments_win_over_every_variable() -> None:
    source = SettingSource(
        {
            "HOKUSAI_SITE_WEBHOOK_SECRET": "from-site-variable",
            "HOKUSAI_SITE_WEBHOOK_URL": "http://site-variable/",
            "WEBHOOK_SECRET": "from-env",
            "WEBHOOK_URL": "http://env/",
        },
        {},
    )

    settings = resolve_settings("http://arg:5000", "http://arg/", "from-arg", source=source)

    assert (settings.tracking_uri, settings.webhook_url) == ("http://arg:5000", "http://arg/")
    assert settings.webhook_secret == "from-arg"


def test_the_hokusai_site_variables_win_over_the_webhook_variables() -> None:
    source = SettingSource(
        {
            "HOKUSAI_SITE_WEBHOOK_URL": "http://site.example/api/webhooks/model-registration",
            "WEBHOOK_URL": "http://plain.example/api/mlflow/registered",
            "HOKUSAI_SITE_WEBHOOK_SECRET": "site secret",
            "WEBHOOK_SECRET": "plain secret",
        },
        {},
    )

    settings = resolve_settings(source=source)

    assert settings.webhook_url == "http://site.example/api/webhooks/model-registration"
    assert settings.webhook_secret == "site secret"


def test_the_webhook_variables_count_when_the_hokusai_site_ones_are_unset_or_blank() -> None:
    source = SettingSource(
        {
            "HOKUSAI_SITE_WEBHOOK_SECRET": "  ",
            "WEBHOOK_SECRET": "plain secret",
            "WEBHOOK_URL": "http://plain.example/api/mlflow/registered",
        },
        {},
    )

    settings = resolve_settings(source=source)

    assert settings.webhook_url == "http://plain.example/api/mlflow/registered"
    assert settings.webhook_secret == "plain secret"


def test_a_hokusai_site_variable_in_dotenv_wins_over_a_webhook_variable_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "HOKUSAI_SITE_WEBHOOK_URL=https://site.example/api/webhooks/model-registration\n"
        "HOKUSAI_SITE_WEBHOOK_SECRET=dotenv site secret\n"
    )
    monkeypatch.setenv("WEBHOOK_URL", "https://plain.example/api/mlflow/registered")
    monkeypatch.setenv("WEBHOOK_SECRET", "environment plain secret")

    settings = resolve_settings()

    assert settings.webhook_url == "https://site.example/api/webhooks/model-registration"
    assert settings.webhook_secret == "dotenv site secret"


def test_a_blank_secret_counts_as_no_secret() -> None:
    settings = resolve_settings(source=SettingSource({"WEBHOOK_SECRET": "  "}, {}))

    assert settings.webhook_secret is None


def test_the_outbox_location_comes_from_hokusai_outbox(tmp_path: Path) -> None:
    source = SettingSource({"HOKUSAI_OUTBOX": str(tmp_path / "box.sqlite3")}, {})

    assert resolve_settings(source=source).outbox_path == tmp_path / "box.sqlite3"


def test_no_dotenv_file_means_no_values(tmp_path: Path) -> None:
    assert read_dotenv(tmp_path / ".env") == {}


def test_the_secret_never_appears_in_a_repr(hokusai_outbox_path: Path) -> None:
    registry = ModelRegistry(
        "http://127.0.0.1:9", None, "do-not-print-me", outbox_path=hokusai_outbox_path
    )

    assert "do-not-print-me" not in repr(registry) + repr(registry.settings)


def test_a_password_in_the_webhook_url_never_appears_in_a_repr(hokusai_outbox_path: Path) -> None:
    url = "https://hook:hunter2@example.com/api/mlflow/registered"
    registry = ModelRegistry("http://127.0.0.1:9", url, "s3cr3t", outbox_path=hokusai_outbox_path)

    shown = repr(registry) + repr(registry.settings)

    assert "hunter2" not in shown and "s3cr3t" not in shown
    assert "https://***@example.com/api/mlflow/registered" in shown


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "/api/mlflow/registered", "http://"])
def test_a_webhook_url_that_is_not_absolute_http_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="set HOKUSAI_SITE_WEBHOOK_URL or WEBHOOK_URL"):
        resolve_settings(webhook_url=url)


@pytest.mark.parametrize("shape", ["v3", "V2", "flat"])
def test_a_payload_shape_that_is_not_v1_or_v2_is_refused_with_the_choices(
    hokusai_outbox_path: Path, shape: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"payload_shape='{shape}'.*'v1' or 'v2'"):
        ModelRegistry("http://127.0.0.1:9", payload_shape=shape, outbox_path=hokusai_outbox_path)


def test_a_registry_sends_v2_unless_asked_for_v1(hokusai_outbox_path: Path) -> None:
    default = ModelRegistry("http://127.0.0.1:9", outbox_path=hokusai_outbox_path)
    flat = ModelRegistry("http://127.0.0.1:9", payload_shape="v1", outbox_path=hokusai_outbox_path)

    assert (default.payload_shape, flat.payload_shape) == (Shape.V2, Shape.V1)


def test_a_password_in_a_bad_url_is_not_echoed() -> None:
    with pytest.raises(ConfigurationError) as raised:
        resolve_settings(webhook_url="ftp://user:hunter2@example.com/hook")

    assert "hunter2" not in str(raised.value)


def test_a_registry_without_a_tracking_server_says_how_to_name_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    with pytest.raises(ConfigurationError, match="MLFLOW_TRACKING_URI"):
        ModelRegistry()


def test_an_unknown_notify_mode_is_refused_with_the_choices(hokusai_outbox_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="'best-effort', 'required'"):
        ModelRegistry("http://127.0.0.1:9", notify="sometimes", outbox_path=hokusai_outbox_path)
