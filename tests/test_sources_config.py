from __future__ import annotations

from pathlib import Path

import pytest

from newsdesk.errors import ConfigError
from newsdesk.settings import CONFIG_DIR
from newsdesk.sources import load_feeds, parse_feeds


def test_shipped_feeds_file_is_valid() -> None:
    feeds = load_feeds(CONFIG_DIR / "feeds.yaml")
    assert feeds.sources
    assert len({s.name for s in feeds.sources}) == len(feeds.sources)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources:\n  - name: a\n    url: not a url\n", "feeds.yaml:3: field `sources.0.url`"),
        (
            "sources:\n  - name: a\n    url: https://x.test/f\n  - name: b\n    urll: https://y\n",
            "feeds.yaml:5: field `sources.1.urll`",
        ),
        (
            "sources:\n  - name: a\n    url: https://x.test/f\n    poll_interval_minutes: -1\n",
            "feeds.yaml:4: field `sources.0.poll_interval_minutes`",
        ),
        ("sources: [\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping"),
        (
            "sources:\n  - name: a\n    url: https://x.test/f\n  - name: a\n    url: https://x.test/g\n",
            "duplicate source names: a",
        ),
    ],
)
def test_mistakes_name_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_feeds(text, "feeds.yaml")
    assert message in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_feeds(tmp_path / "nope.yaml")
