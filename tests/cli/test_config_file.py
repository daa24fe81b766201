"""``check-receiver``'s settings in ``hokusai-contract.toml`` or ``[tool.hokusai-contract]`` of
``pyproject.toml``: read from the current folder, overridden by flags, never a secret, each
mistake one line with its own exit code."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from contracts.cli.config_file import EXIT_CONFIG
from contracts.receiver.testing import RunningStubSite
from tests.cli.running import clean_environment, run_cli

SECRET = "settings file secret 2a7d"


@pytest.fixture
def here(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/webhooks/model-registration"


def settings_text(site: RunningStubSite) -> str:
    return (
        f'url = "{site.webhook_url}"\n'
        'token = "lscor"\n'
        'spare-tokens = ["OTHER", "SPARE"]\n'
        f'state-url = "{site.state_url_template}"\n'
        'secret-env = "SITE_SECRET"\n'
    )


def check_receiver(here: Path, *args: str) -> tuple[int, str, str]:
    env = clean_environment(here.parent / "cache", SITE_SECRET=SECRET)
    run = run_cli(here, "check-receiver", "--no-schemathesis", *args, env=env)
    return run.returncode, run.stdout, run.stderr


def test_check_receiver_takes_every_setting_from_hokusai_contract_toml(
    here: Path, site: RunningStubSite
) -> None:
    (here / "hokusai-contract.toml").write_text(settings_text(site), encoding="utf-8")
    code, out, err = check_receiver(here, "--json", "report.json")
    assert code == 0, out + err
    assert f"Checking {site.webhook_url} (settings from hokusai-contract.toml)\n" in out
    assert "token LSCOR; spare tokens OTHER, SPARE; state URL http://" in out
    assert json.loads((here / "report.json").read_text())["settings_file"] == (
        "hokusai-contract.toml"
    )
    assert site.token("OTHER")["status"] == "REGISTERED"


def test_check_receiver_takes_its_settings_from_the_tool_table_of_pyproject(
    here: Path, site: RunningStubSite
) -> None:
    table = settings_text(site)
    pyproject = f'[project]\nname = "website"\n\n[tool.hokusai-contract]\n{table}'
    (here / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    code, out, err = check_receiver(here)
    assert code == 0, out + err
    assert "(settings from pyproject.toml [tool.hokusai-contract])" in out.splitlines()[0]


def test_flags_win_over_the_settings_file(here: Path, site: RunningStubSite) -> None:
    (here / "hokusai-contract.toml").write_text(
        f'url = "{closed_port_url()}"\ntoken = "NOPE"\nsecret-env = "UNSET_NAME"\n',
        encoding="utf-8",
    )
    code, out, err = check_receiver(
        here, "--url", site.webhook_url, "--token", "LSCOR", "--secret-env", "SITE_SECRET"
    )
    assert code == 0, out + err
    assert f"Checking {site.webhook_url} (settings from hokusai-contract.toml)" in out


def test_a_pyproject_without_the_table_is_no_settings_file(
    here: Path, site: RunningStubSite
) -> None:
    (here / "pyproject.toml").write_text('[project]\nname = "website"\n', encoding="utf-8")
    code, out, err = check_receiver(
        here, "--url", site.webhook_url, "--token", "LSCOR", "--secret-env", "SITE_SECRET"
    )
    assert code == 0, out + err
    assert "settings from" not in out


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            'url = "http://127.0.0.1:9/x"\nsecret = "settings-file-secret-value"\n',
            "'secret' would put the secret itself in a file; keep the secret in an environment "
            "variable (or .env) and name that variable with secret-env",
        ),
        (
            'webhook-secret = "settings-file-secret-value"\n',
            "'webhook-secret' would put the secret itself in a file",
        ),
        (
            'url = "http://127.0.0.1:9/x"\ncolour = "always"\n',
            "hokusai-contract.toml: unknown key 'colour'; the known keys are url, also-urls, "
            "token, spare-tokens, state-url, secret-env",
        ),
        ('secret_env = "SITE_SECRET"\n', "unknown key 'secret_env'; write it secret-env"),
        ('spare-tokens = "OTHER"\n', "spare-tokens must be a list of strings"),
        ("token = 7\n", "token must be a string"),
        (
            'secret-env = "settings-file-secret-value"\n',
            "secret-env takes the NAME of an environment variable",
        ),
        ('url = "http://127.0.0.1:9/x\n', "hokusai-contract.toml is not valid TOML"),
    ],
)
def test_a_settings_file_mistake_is_one_line_with_its_own_exit_code(
    here: Path, content: str, said: str
) -> None:
    (here / "hokusai-contract.toml").write_text(content, encoding="utf-8")
    code, out, err = check_receiver(here)
    assert code == EXIT_CONFIG
    assert err.count("\n") == 1 and said in err, err
    assert "settings-file-secret-value" not in out + err


def test_a_url_neither_given_nor_in_a_settings_file_is_a_one_line_usage_error(here: Path) -> None:
    code, _, err = check_receiver(here, "--token", "LSCOR")
    assert code == 2
    assert err == (
        "hokusai-contract check-receiver: error: --url is required: pass it, or set url in "
        "hokusai-contract.toml or in [tool.hokusai-contract] of pyproject.toml\n"
    )


def test_a_bad_value_in_the_settings_file_is_named_as_the_files(here: Path) -> None:
    (here / "hokusai-contract.toml").write_text(
        'url = "not-a-url"\ntoken = "LSCOR"\n', encoding="utf-8"
    )
    code, _, err = check_receiver(here)
    assert code == 2
    assert "url in hokusai-contract.toml 'not-a-url' is not an http(s) URL" in err
