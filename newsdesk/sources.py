"""Source configuration (`config/feeds.yaml`), validated on load.

A mistake is reported as one `ConfigError` naming the file, the line and the field, so an
operator can fix it without reading a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from newsdesk.errors import ConfigError

SourceKind = Literal["rss", "atom", "rdf", "json", "sitemap", "auto"]


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    url: HttpUrl
    kind: SourceKind = "auto"
    tags: list[str] = Field(default_factory=list)
    language: str | None = None
    poll_interval_minutes: float = Field(default=30, gt=0)
    min_interval_minutes: float = Field(default=5, gt=0)
    max_interval_minutes: float = Field(default=24 * 60, gt=0)
    enabled: bool = True


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow_hosts: list[str] = Field(default_factory=list)
    sources: list[SourceConfig]


def _line_of(node: yaml.Node, loc: tuple[int | str, ...]) -> int:
    """The 1-based line of the YAML node at `loc` (or of its nearest existing parent)."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                match = next((k for k, _ in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            match = node.value[key]
        else:
            match = None
        if match is None:
            break
        node = match
    return node.start_mark.line + 1


def parse_feeds(text: str, path: Path | str = "feeds.yaml") -> FeedsFile:
    try:
        root = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: not valid YAML ({exc})") from None
    if root is None or not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping with a `sources:` list")
    try:
        feeds = FeedsFile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # An unknown key is usually a typo, and it also causes the "missing" error beside it.
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(root, loc)
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"{path}:{line}: field `{field}`: {msg}") from None
    names = [s.name for s in feeds.sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: duplicate source names: {', '.join(dupes)}")
    return feeds


def load_feeds(path: Path) -> FeedsFile:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (pass --feeds PATH)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    return parse_feeds(text, path)
