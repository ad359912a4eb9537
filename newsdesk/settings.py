"""Settings from the environment (prefix `NEWSDESK_`), with defaults that suit one machine.

Secrets (Elasticsearch password or API key) come only from the environment, never from files
under `config/`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "config"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", extra="ignore")

    es_url: str | None = Field(
        default=None, description="An existing cluster; unset means the local node."
    )
    es_api_key: SecretStr | None = None
    es_username: str | None = None
    es_password: SecretStr | None = None
    es_ca_file: Path | None = None
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

    batch_size: int = 50
    bulk_chunk_size: int = 200
    bulk_max_retries: int = 5

    @property
    def index_name(self) -> str:
        return f"{self.index_alias}-v{self.index_version}"


@cache
def get_settings() -> Settings:
    return Settings()
