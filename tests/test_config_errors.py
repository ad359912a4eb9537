"""Broken configuration stops the CLI with one line that names the problem and its fix.

Every case runs `python -m newsdesk.cli` as a real process (all at once, see
`tests.cli_subprocess`), with an environment that points at a bad file, a bad variable, or an
Elasticsearch that is not there. Each case lists the words its one-line error must contain.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli_subprocess import Case, assert_one_line_error, clean_env, closed_port, run_batch

FEEDS = {
    "malformed.yaml": "sources:\n  - name: a\n    url: [unclosed\n",
    "unknown-key.yaml": "sources:\n  - name: a\n    url: https://example.org/f\n    colour: red\n",
    "bad-url.yaml": "sources:\n  - name: a\n    url: not a url\n",
    "not-a-mapping.yaml": "- just\n- a list\n",
    "good.yaml": "sources:\n  - name: a\n    url: http://127.0.0.1:9/feed.xml\n",
}

# case name -> (arguments, extra environment, words the error line must contain)
CASES: dict[str, tuple[list[str], dict[str, str], list[str]]] = {
    "feeds file missing": (
        ["ingest", "--feeds", "{dir}/nope.yaml"],
        {},
        ["nope.yaml", "file not found", "--feeds"],
    ),
    "feeds file from the environment missing": (
        ["ingest"],
        {"NEWSDESK_FEEDS_FILE": "{dir}/gone.yaml"},
        ["gone.yaml", "file not found"],
    ),
    "feeds file malformed": (
        ["ingest", "--feeds", "{dir}/malformed.yaml"],
        {},
        ["malformed.yaml:", "not valid YAML", "flow sequence"],
    ),
    "feeds file with an unknown key": (
        ["ingest", "--feeds", "{dir}/unknown-key.yaml"],
        {},
        ["unknown-key.yaml:4:", "sources.0.colour", "unknown field"],
    ),
    "feeds file with a bad URL": (
        ["ingest", "--feeds", "{dir}/bad-url.yaml"],
        {},
        ["bad-url.yaml:3:", "sources.0.url", "URL"],
    ),
    "feeds file not a mapping": (
        ["ingest", "--feeds", "{dir}/not-a-mapping.yaml"],
        {},
        ["not-a-mapping.yaml:1:", "sources:"],
    ),
    "Elasticsearch unreachable (search)": (
        ["search", "x"],
        {"NEWSDESK_ES_URL": "http://127.0.0.1:{port}"},
        ["cannot reach Elasticsearch at http://127.0.0.1:{port}", "NEWSDESK_ES_URL"],
    ),
    "Elasticsearch unreachable (ingest, before Prefect starts)": (
        ["ingest", "--feeds", "{dir}/good.yaml"],
        {"NEWSDESK_ES_URL": "http://127.0.0.1:{port}"},
        ["cannot reach Elasticsearch at http://127.0.0.1:{port}", "newsdesk es start"],
    ),
    "Elasticsearch password in the URL is not echoed": (
        ["search", "x"],
        {"NEWSDESK_ES_URL": "http://elastic:url-secret-1@127.0.0.1:{port}"},
        ["cannot reach Elasticsearch at http://elastic:**********@127.0.0.1:{port}"],
    ),
    "no Elasticsearch configured": (
        ["search", "x"],
        {},
        ["no Elasticsearch configured", "NEWSDESK_ES_URL", "newsdesk es start"],
    ),
    "bad setting value": (
        ["search", "x"],
        {"NEWSDESK_ES_REQUEST_TIMEOUT": "soon"},
        ["NEWSDESK_ES_REQUEST_TIMEOUT='soon'", "valid number", "fix or unset"],
    ),
    "secrets file missing": (
        ["search", "x"],
        {"NEWSDESK_ES_PASSWORD_FILE": "{dir}/no-secret", "NEWSDESK_ES_USERNAME": "u"},
        ["NEWSDESK_ES_PASSWORD_FILE={dir}/no-secret", "cannot read the secrets file"],
    ),
    "secret given twice": (
        ["search", "x"],
        {"NEWSDESK_ES_API_KEY": "k", "NEWSDESK_ES_API_KEY_FILE": "{dir}/good.yaml"},
        ["NEWSDESK_ES_API_KEY and NEWSDESK_ES_API_KEY_FILE", "keep only one"],
    ),
    "CA file missing": (
        ["search", "x"],
        {"NEWSDESK_ES_URL": "https://127.0.0.1:{port}", "NEWSDESK_ES_CA_FILE": "{dir}/ca.pem"},
        ["NEWSDESK_ES_CA_FILE={dir}/ca.pem", "no such file"],
    ),
    "CA file with a plain http URL": (
        ["search", "x"],
        {"NEWSDESK_ES_URL": "http://127.0.0.1:{port}", "NEWSDESK_ES_CA_FILE": "{dir}/good.yaml"},
        ["is not https://", "nothing would be verified"],
    ),
}
DEBUG = "Elasticsearch unreachable with NEWSDESK_DEBUG=1"


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[str]]:
    directory = tmp_path_factory.mktemp("config-errors")
    for name, text in FEEDS.items():
        (directory / name).write_text(text, "utf-8")
    port = closed_port()

    def fill(text: str) -> str:
        return text.format(dir=directory, port=port)

    cases = {
        name: Case(
            [fill(a) for a in args],
            clean_env(directory / "data", **{k: fill(v) for k, v in env.items()}),
        )
        for name, (args, env, _) in CASES.items()
    }
    cases[DEBUG] = Case(
        ["search", "x"],
        clean_env(
            directory / "data", NEWSDESK_ES_URL=f"http://127.0.0.1:{port}", NEWSDESK_DEBUG="1"
        ),
    )
    results = run_batch(cases)
    for proc in results.values():
        proc.stderr = proc.stderr.replace(str(directory), "{dir}").replace(str(port), "{port}")
    return results


@pytest.mark.parametrize("case", list(CASES))
def test_broken_configuration_is_one_line(
    case: str, outcomes: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    proc = outcomes[case]
    assert_one_line_error(proc, *CASES[case][2])
    assert proc.returncode == 2
    assert "url-secret-1" not in proc.stderr + proc.stdout


def test_ingest_checks_elasticsearch_before_starting_prefect(
    outcomes: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    proc = outcomes["Elasticsearch unreachable (ingest, before Prefect starts)"]
    assert "Prefect" not in proc.stdout + proc.stderr


def test_debug_shows_the_traceback(outcomes: dict[str, subprocess.CompletedProcess[str]]) -> None:
    proc = outcomes[DEBUG]
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr
    assert "ConnectionError" in proc.stderr


def test_feeds_file_in_repo_is_valid() -> None:
    """The shipped config/feeds.yaml loads, so the cases above fail for their own reasons."""
    from newsdesk.settings import CONFIG_DIR
    from newsdesk.sources import load_feeds

    assert load_feeds(Path(CONFIG_DIR / "feeds.yaml")).sources
