"""Elasticsearch with security on: HTTPS with a CA the tests generate and a file-realm user.

One secured node serves the whole module (started with `es_node.ephemeral_node(security=...)`,
beside the session's plain node). The right password, CA or certificate fingerprint work end
to end; a wrong password or API key, a missing or wrong CA, a wrong fingerprint or plain http
fail with one line that names the problem, and never fall back to unverified TLS.

A valid API key cannot be made here: API keys live in the `.security` index, whose analysis
needs the analysis-common module that the integration-test distribution lacks. The key is sent
by the same `connect` code path; only the wrong-key case is proven against the node.
"""

from __future__ import annotations

import json
import secrets
import shutil
import ssl
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from newsdesk import es_node
from newsdesk.es_client import connect
from newsdesk.index import ensure_index, refresh
from newsdesk.models import Status
from newsdesk.search import SearchRequest, run_search
from newsdesk.settings import Settings
from newsdesk.writer import write_articles
from tests.cli_subprocess import Case, assert_one_line_error, clean_env, run_batch
from tests.corpus import build_corpus
from tests.tls import ServerPki, make_ca, make_server_pki

pytestmark = pytest.mark.es

USER = "newsdesk-test"


@dataclass(frozen=True)
class SecureNode:
    url: str
    pki: ServerPki
    wrong_ca: Path
    password: str
    settings: Settings
    """Full access: the right user, password and CA, on an index of this module."""
    expected_ids: frozenset[str]
    write_outcomes: tuple[Status, ...]
    base: Path


@pytest.fixture(scope="module")
def secure() -> Iterator[SecureNode]:
    # Not tmp_path_factory: its mode-700 base is out of reach of the node's user under root.
    base = Path(tempfile.mkdtemp(prefix="newsdesk-es-secure-"))
    base.chmod(0o755)
    try:
        pki = make_server_pki(base / "pki")
        wrong_ca, _ = make_ca(base / "other-ca", name="some other CA")
        password = secrets.token_urlsafe(18)
        security = es_node.SecurityConfig(
            username=USER,
            password=SecretStr(password),
            ca_cert=pki.ca_cert,
            node_cert=pki.node_cert,
            node_key=pki.node_key,
        )
        with es_node.ephemeral_node(base, settings=Settings(), security=security) as info:
            settings = Settings(
                es_url=info.url,
                es_username=USER,
                es_password=SecretStr(password),
                es_ca_file=pki.ca_cert,
                index_alias=f"t-secure-{uuid.uuid4().hex[:10]}",
                data_dir=base / "data",
            )
            articles = build_corpus()[:20]
            client = connect(settings)
            try:
                ensure_index(client, settings)
                outcomes = write_articles(client, settings, articles)
                refresh(client, settings)
            finally:
                client.close()
            yield SecureNode(
                url=info.url,
                pki=pki,
                wrong_ca=wrong_ca,
                password=password,
                settings=settings,
                expected_ids=frozenset(a.id for a in articles),
                write_outcomes=tuple(o.status for o in outcomes),
                base=base,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _search_all(settings: Settings) -> set[str]:
    client = connect(settings)
    try:
        result = run_search(client, settings, SearchRequest(limit=100, collapse=False))
    finally:
        client.close()
    return {hit.article.id for hit in result.hits}


def test_node_serves_only_https_and_requires_credentials(secure: SecureNode) -> None:
    assert secure.url.startswith("https://127.0.0.1:")
    trusted = ssl.create_default_context(cafile=str(secure.pki.ca_cert))
    with httpx.Client(verify=trusted, timeout=10) as client:
        assert client.get(f"{secure.url}/_cluster/health").status_code == 401
    with httpx.Client(timeout=10) as client, pytest.raises(httpx.ConnectError):
        client.get(f"{secure.url}/_cluster/health")


def test_password_and_ca_work_end_to_end(secure: SecureNode) -> None:
    """ensure_index, write_articles and run_search through `connect` (done in the fixture)."""
    assert set(secure.write_outcomes) == {Status.INDEXED}
    assert len(secure.write_outcomes) == len(secure.expected_ids)
    assert _search_all(secure.settings) == secure.expected_ids


def test_pinned_fingerprint_works_without_a_ca(secure: SecureNode) -> None:
    settings = secure.settings.model_copy(
        update={"es_ca_file": None, "es_ssl_fingerprint": secure.pki.fingerprint.upper()}
    )
    assert _search_all(settings) == secure.expected_ids


def test_client_always_verifies_certificates(
    secure: SecureNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NEWSDESK_ES_VERIFY_CERTS", "NEWSDESK_ES_SSL_VERIFY", "NEWSDESK_ES_INSECURE"):
        monkeypatch.setenv(name, "false")
    for update in ({}, {"es_ca_file": None}, {"es_ca_file": secure.wrong_ca}):
        client = connect(Settings(**{**secure.settings.model_dump(), **update}))
        try:
            (node,) = client.transport.node_pool.all()
            assert node.config.verify_certs is True
        finally:
            client.close()


# --- The CLI, as a real process ---------------------------------------------------------


def _cli_cases(node: SecureNode) -> dict[str, tuple[dict[str, str], list[str]]]:
    """case -> (environment, words of the one-line error; empty for a success)."""
    secret_file = node.base / "es-password"
    secret_file.write_text(node.password + "\n", "utf-8")
    secret_file.chmod(0o600)
    plain = "http://" + node.url.removeprefix("https://")
    full = {
        "NEWSDESK_ES_URL": node.url,
        "NEWSDESK_ES_USERNAME": USER,
        "NEWSDESK_ES_PASSWORD": node.password,
        "NEWSDESK_ES_CA_FILE": str(node.pki.ca_cert),
        "NEWSDESK_INDEX_ALIAS": node.settings.index_alias,
    }
    no_ca = {k: v for k, v in full.items() if k != "NEWSDESK_ES_CA_FILE"}
    key = {
        k: v for k, v in full.items() if k not in ("NEWSDESK_ES_USERNAME", "NEWSDESK_ES_PASSWORD")
    }
    return {
        "password and CA": (full, []),
        "password from a secrets file": (
            {**key, "NEWSDESK_ES_USERNAME": USER, "NEWSDESK_ES_PASSWORD_FILE": str(secret_file)},
            [],
        ),
        "wrong password": (
            {**full, "NEWSDESK_ES_PASSWORD": "not-" + node.password},
            ["refused the credentials (401)", "NEWSDESK_ES_PASSWORD"],
        ),
        "wrong API key": (
            {**key, "NEWSDESK_ES_API_KEY": "bm90OmEta2V5"},
            ["refused the credentials (401)", "NEWSDESK_ES_API_KEY"],
        ),
        "no credentials": (key, ["requires authentication (401)", "NEWSDESK_ES_USERNAME"]),
        "missing CA, even when asked not to verify": (
            {**no_ca, "NEWSDESK_ES_VERIFY_CERTS": "false", "PYTHONHTTPSVERIFY": "0"},
            ["TLS certificate", "not trusted", "set NEWSDESK_ES_CA_FILE"],
        ),
        "wrong CA": (
            {**full, "NEWSDESK_ES_CA_FILE": str(node.wrong_ca)},
            ["not trusted", f"not signed by the CA in NEWSDESK_ES_CA_FILE={node.wrong_ca}"],
        ),
        "wrong fingerprint": (
            {**no_ca, "NEWSDESK_ES_SSL_FINGERPRINT": "ab" * 32},
            ["does not match NEWSDESK_ES_SSL_FINGERPRINT"],
        ),
        "plain http to the https port": (
            {**no_ca, "NEWSDESK_ES_URL": plain},
            [f"cannot reach Elasticsearch at {plain}", "use https://"],
        ),
    }


@pytest.fixture(scope="module")
def cli(secure: SecureNode) -> dict[str, tuple[subprocess.CompletedProcess[str], list[str]]]:
    cases = _cli_cases(secure)
    batch = {
        name: Case(
            ["search", "--json", "--duplicates", "--limit", "100"],
            clean_env(secure.base / "cli-data", **env),
        )
        for name, (env, _) in cases.items()
    }
    results = run_batch(batch)
    return {name: (results[name], cases[name][1]) for name in cases}


@pytest.mark.parametrize("case", ["password and CA", "password from a secrets file"])
def test_cli_search_with_right_credentials(
    case: str,
    secure: SecureNode,
    cli: dict[str, tuple[subprocess.CompletedProcess[str], list[str]]],
) -> None:
    proc, _ = cli[case]
    assert proc.returncode == 0, proc.stderr
    found = {hit["article"]["id"] for hit in json.loads(proc.stdout)["hits"]}
    assert found == secure.expected_ids


@pytest.mark.parametrize(
    "case",
    [
        "wrong password",
        "wrong API key",
        "no credentials",
        "missing CA, even when asked not to verify",
        "wrong CA",
        "wrong fingerprint",
        "plain http to the https port",
    ],
)
def test_cli_fails_loudly_in_one_line(
    case: str,
    secure: SecureNode,
    cli: dict[str, tuple[subprocess.CompletedProcess[str], list[str]]],
) -> None:
    proc, needles = cli[case]
    assert_one_line_error(proc, *needles)
    assert proc.returncode == 2
    assert secure.password not in proc.stdout + proc.stderr
