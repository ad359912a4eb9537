"""Secrets come only from the environment or a `*_FILE` secrets file, and are never shown.

`newsdesk config show` prints every setting with secrets masked; nothing under `config/` holds
a secret; a secret never appears in an error message or the repr of the settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict
from typer.testing import CliRunner

from newsdesk.cli import app
from newsdesk.cli_config import MASK, SETTINGS_CLASSES, effective_settings, masked
from newsdesk.errors import ConfigError
from newsdesk.es_client import connect, redact_url
from newsdesk.settings import EnvSettings, Settings, get_settings, is_secret

ES_PASSWORD = "es-password-7f3a"
ES_API_KEY = "es-api-key-91bc"
APP_KEYS = ("app-key-one-5d1", "app-key-two-e82")
URL_PASSWORD = "url-password-44d"
FILE_PASSWORD = "file-password-c09"


@pytest.fixture(autouse=True)
def _no_newsdesk_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("NEWSDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()


def test_password_from_a_secrets_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "es_password"
    secret.write_text(FILE_PASSWORD + "\n", "utf-8")
    monkeypatch.setenv("NEWSDESK_ES_PASSWORD_FILE", str(secret))
    settings = Settings()
    assert settings.es_password is not None
    assert settings.es_password.get_secret_value() == FILE_PASSWORD
    assert FILE_PASSWORD not in repr(settings) + str(settings)


@pytest.mark.parametrize(
    ("content", "env", "problem"),
    [
        (None, {}, "cannot read the secrets file"),
        ("\n", {}, "the secrets file is empty"),
        ("x", {"NEWSDESK_ES_API_KEY": ES_API_KEY}, "keep only one of them"),
    ],
)
def test_bad_secrets_file_is_a_config_error(
    content: str | None,
    env: dict[str, str],
    problem: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    path = tmp_path / "es_api_key"
    if content is not None:
        path.write_text(content, "utf-8")
    monkeypatch.setenv("NEWSDESK_ES_API_KEY_FILE", str(path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=problem) as info:
        get_settings()
    assert ES_API_KEY not in str(info.value)
    assert "NEWSDESK_ES_API_KEY_FILE" in str(info.value)


class KeyedSettings(EnvSettings):
    """Shaped like the API's settings: comma-separated keys in one variable."""

    model_config = SettingsConfigDict(env_prefix="NEWSDESK_TEST_", extra="ignore")
    keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    @field_validator("keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value


def test_key_list_from_a_secrets_file_one_per_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "keys"
    path.write_text("\n".join(APP_KEYS) + "\n\n", "utf-8")
    monkeypatch.setenv("NEWSDESK_TEST_KEYS_FILE", str(path))
    assert [k.get_secret_value() for k in KeyedSettings().keys] == list(APP_KEYS)


def test_bad_variable_names_itself_but_never_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_BATCH_SIZE", "lots")
    monkeypatch.setenv("NEWSDESK_ES_PASSWORD", ES_PASSWORD)
    with pytest.raises(ConfigError) as info:
        get_settings()
    message = str(info.value)
    assert message.startswith("NEWSDESK_BATCH_SIZE='lots': ")
    assert "\n" not in message
    assert ES_PASSWORD not in message


def test_no_secret_has_a_default() -> None:
    """Every settings class: secret fields default to nothing, so only the environment sets them."""
    import importlib

    checked = 0
    for _, module_name, class_name in SETTINGS_CLASSES:
        settings_cls = getattr(importlib.import_module(module_name), class_name)
        for name, field in settings_cls.model_fields.items():
            if is_secret(field.annotation):
                default = field.get_default(call_default_factory=True)
                assert default in (None, []), f"{class_name}.{name} has a default"
                checked += 1
    assert checked >= 3


def test_config_dir_holds_no_secrets() -> None:
    config = Path(__file__).resolve().parent.parent / "config"
    for path in config.rglob("*"):
        if path.is_file():
            text = path.read_text("utf-8", errors="replace").lower()
            for word in ("password", "api_key", "apikey", "secret", "token"):
                assert f"{word}:" not in text, (path, word)
                assert f'"{word}"' not in text, (path, word)


def test_masked_values() -> None:
    assert masked("es_password", SecretStr("x")) == MASK
    assert masked("api_keys", [SecretStr("a"), SecretStr("b")]) == [MASK, MASK]
    assert masked("hub_secret", "plain string") == MASK
    assert masked("es_url", f"https://elastic:{URL_PASSWORD}@h:9200/") == (
        f"https://elastic:{MASK}@h:9200/"
    )
    assert masked("es_url", "https://h:9200") == "https://h:9200"
    assert masked("es_password", None) is None
    assert masked("ca", Path("/etc/ca.pem")) == "/etc/ca.pem"
    assert redact_url("http://user@h/") == "http://user@h/"


def test_config_show_masks_every_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "es_password"
    secret.write_text(FILE_PASSWORD, "utf-8")
    monkeypatch.setenv("NEWSDESK_ES_URL", f"https://elastic:{URL_PASSWORD}@127.0.0.1:9200")
    monkeypatch.setenv("NEWSDESK_ES_USERNAME", "elastic")
    monkeypatch.setenv("NEWSDESK_ES_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("NEWSDESK_ES_API_KEY", ES_API_KEY)
    monkeypatch.setenv("NEWSDESK_API_KEYS", ",".join(APP_KEYS))
    monkeypatch.setenv("NEWSDESK_READ_API_KEYS", APP_KEYS[0])
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    table = runner.invoke(app, ["config", "show"])
    as_json = runner.invoke(app, ["config", "show", "--json"])
    for result in (table, as_json):
        assert result.exit_code == 0, result.output
        for value in (ES_PASSWORD, ES_API_KEY, URL_PASSWORD, FILE_PASSWORD, *APP_KEYS):
            assert value not in result.output
        assert MASK in result.output
    core = json.loads(as_json.output)["settings"]["core"]
    assert core["es_password"] == {
        "env": "NEWSDESK_ES_PASSWORD",
        "value": MASK,
        "source": "file",
    }
    assert core["es_api_key"]["value"] == MASK
    assert core["es_username"] == {
        "env": "NEWSDESK_ES_USERNAME",
        "value": "elastic",
        "source": "env",
    }
    assert core["es_url"]["value"] == f"https://elastic:{MASK}@127.0.0.1:9200"
    assert core["batch_size"]["source"] == "default"
    groups, problems = effective_settings()
    assert problems == []
    if "api" in groups:
        assert groups["api"]["api_keys"]["value"] == [MASK, MASK]


def test_config_show_reports_a_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDESK_ES_REQUEST_TIMEOUT", "soon")
    result = CliRunner().invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 2
    assert "NEWSDESK_ES_REQUEST_TIMEOUT='soon'" in result.output


def test_trust_settings_that_would_verify_nothing_are_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not used", "utf-8")
    with pytest.raises(ConfigError, match="nothing would be verified"):
        connect(Settings(es_url="http://127.0.0.1:9200", es_ca_file=ca))
    with pytest.raises(ConfigError, match="one of them only"):
        connect(Settings(es_url="https://127.0.0.1:9200", es_ca_file=ca, es_ssl_fingerprint="ab"))
    with pytest.raises(ConfigError, match="no such file"):
        connect(Settings(es_url="https://127.0.0.1:9200", es_ca_file=tmp_path / "missing.pem"))


def test_app_api_keys_from_a_secrets_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from newsdesk.api_common import ApiSettings

    path = tmp_path / "api_keys"
    path.write_text("\n".join(APP_KEYS) + "\n", "utf-8")
    monkeypatch.setenv("NEWSDESK_API_KEYS_FILE", str(path))
    api = ApiSettings()
    assert [k.get_secret_value() for k in api.api_keys] == list(APP_KEYS)
    assert api.read_api_keys == []
