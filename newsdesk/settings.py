"""Settings from the environment (prefix `NEWSDESK_`), with defaults that suit one machine.

Secrets (fields typed `SecretStr`: the Elasticsearch password or API key, the app's API keys)
come only from the environment or from a secrets file named by `NEWSDESK_<FIELD>_FILE` (the
Docker/Kubernetes convention, e.g. `NEWSDESK_ES_PASSWORD_FILE=/run/secrets/es_password`), never
from files under `config/`; they print as `**********`. Other settings classes get the same
`*_FILE` support by deriving from `EnvSettings`.
"""

from __future__ import annotations

import os
import typing
from functools import cache
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from newsdesk.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "config"


def is_secret(annotation: Any) -> bool:
    """Whether a field's type holds a `SecretStr` (alone, optional or in a list)."""
    if annotation is SecretStr:
        return True
    return any(is_secret(arg) for arg in typing.get_args(annotation))


def env_name(settings_cls: type[BaseSettings], field: str) -> str:
    return f"{settings_cls.model_config.get('env_prefix', '')}{field}".upper()


class SecretFilesSource(PydanticBaseSettingsSource):
    """Secret fields from the file named by `<PREFIX><FIELD>_FILE`, trailing newline stripped.

    Setting both the variable and its `_FILE` twin is an error rather than a silent choice.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        environ = {k.upper(): v for k, v in os.environ.items()}
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if not is_secret(field.annotation):
                continue
            var = env_name(self.settings_cls, name)
            path = environ.get(f"{var}_FILE")
            if not path:
                continue
            if environ.get(var):
                raise ConfigError(f"both {var} and {var}_FILE are set: keep only one of them")
            try:
                text = Path(path).read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise ConfigError(
                    f"{var}_FILE={path}: cannot read the secrets file ({reason}); "
                    f"fix the path or unset {var}_FILE"
                ) from None
            secret = text.strip()
            if not secret:
                raise ConfigError(f"{var}_FILE={path}: the secrets file is empty")
            if typing.get_origin(field.annotation) is list:
                secret = ",".join(line.strip() for line in secret.splitlines() if line.strip())
            values[name] = secret
        return values


class EnvSettings(BaseSettings):
    """Base of newsdesk's settings classes: environment, then `*_FILE` secrets files."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            SecretFilesSource(settings_cls),
            file_secret_settings,
        )


class Settings(EnvSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", extra="ignore")

    es_url: str | None = Field(
        default=None, description="An existing cluster; unset means the local node."
    )
    es_api_key: SecretStr | None = None
    es_username: str | None = None
    es_password: SecretStr | None = None
    es_ca_file: Path | None = Field(
        default=None, description="PEM of the CA that signed the cluster's HTTPS certificate."
    )
    es_ssl_fingerprint: str | None = Field(
        default=None,
        description="Pin the cluster's certificate by its SHA-256 fingerprint instead of a CA.",
    )
    es_request_timeout: float = 30.0

    index_alias: str = "articles"
    index_version: int = 1

    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("newsdesk")))
    cache_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_cache_dir("newsdesk")))
    feeds_file: Path = CONFIG_DIR / "feeds.yaml"

    user_agent: str = "newsdesk/0.1 (+https://github.com/newsdesk/newsdesk; news ingestion bot)"
    connect_timeout: float = 5.0
    request_deadline: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    fetch_concurrency: int = 8
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts allowed even when they resolve to loopback or private addresses.",
    )

    ner: str = Field(
        default="rules",
        description='Entity extractor: "rules" (no model needed) or "spacy:<installed model>".',
    )

    batch_size: int = 50
    bulk_chunk_size: int = 200
    bulk_max_retries: int = 5

    @property
    def index_name(self) -> str:
        return f"{self.index_alias}-v{self.index_version}"


def settings_error(settings_cls: type[BaseSettings], exc: ValidationError) -> ConfigError:
    """One line naming the environment variable at fault (its value only if not a secret)."""
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else ""
    info = settings_cls.model_fields.get(field)
    var = env_name(settings_cls, field) if field else "a NEWSDESK_ variable"
    shown = ""
    if info is not None and not is_secret(info.annotation) and isinstance(err["input"], str):
        shown = f"={err['input'][:80]!r}"
    return ConfigError(f"{var}{shown}: {err['msg']}; fix or unset {var}")


@cache
def get_settings() -> Settings:
    """The process's settings; a bad environment variable is a `ConfigError` naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        raise settings_error(Settings, exc) from None
