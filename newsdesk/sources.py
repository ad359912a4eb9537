"""Source configuration (`config/feeds.yaml`), validated on load.

A mistake is reported as one `ConfigError` naming the file, the line and the field, so an
operator can fix it without reading a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from newsdesk.errors import ConfigError

_NAME = r"^[A-Za-z0-9_.-]+$"

SourceKind = Literal["rss", "atom", "rdf", "json", "sitemap", "auto"]


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=_NAME)
    url: HttpUrl
    kind: SourceKind = "auto"
    tags: list[str] = Field(default_factory=list)
    language: str | None = None
    poll_interval_minutes: float = Field(default=30, gt=0)
    min_interval_minutes: float = Field(default=5, gt=0)
    max_interval_minutes: float = Field(default=24 * 60, gt=0)
    enabled: bool = True
    group: str = Field(default="default", min_length=1, pattern=_NAME)
    websub: bool = Field(
        default=False, description="Subscribe to the feed's WebSub hub when it advertises one."
    )


_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#LW-]+$")


class GroupConfig(BaseModel):
    """How often the scheduled poll of one source group runs: an interval or a cron line."""

    model_config = ConfigDict(extra="forbid")

    interval_minutes: float | None = Field(default=None, gt=0)
    cron: str | None = None
    timezone: str = "UTC"
    paused: bool = False

    @model_validator(mode="after")
    def _one_schedule(self) -> GroupConfig:
        if self.interval_minutes is not None and self.cron is not None:
            raise ValueError("give either interval_minutes or cron, not both")
        if self.cron is not None:
            fields = self.cron.split()
            if len(fields) not in (5, 6) or not all(_CRON_FIELD.match(f) for f in fields):
                raise ValueError(f"not a cron expression (5 fields expected): {self.cron!r}")
        return self


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow_hosts: list[str] = Field(default_factory=list)
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    sources: list[SourceConfig]

    @model_validator(mode="after")
    def _group_names(self) -> FeedsFile:
        bad = [g for g in self.groups if not re.match(_NAME, g)]
        if bad:
            raise ValueError(f"group names may use letters, digits, _ . - only: {bad}")
        return self

    def group_names(self) -> list[str]:
        """Groups that have at least one enabled source, in first-seen order."""
        return list(dict.fromkeys(s.group for s in self.sources if s.enabled))

    def group_schedule(self, group: str) -> GroupConfig:
        """The configured schedule, else an interval of the group's shortest poll interval."""
        configured = self.groups.get(group)
        if configured is not None and (configured.cron or configured.interval_minutes):
            return configured
        members = [s.poll_interval_minutes for s in self.sources if s.group == group]
        interval = min(members, default=30.0)
        if configured is not None:
            return configured.model_copy(update={"interval_minutes": interval})
        return GroupConfig(interval_minutes=interval)


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
        where = f":{mark.line + 1}" if mark else ""
        parts = (getattr(exc, "context", None), getattr(exc, "problem", None))
        detail = "; ".join(p for p in parts if p) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: not valid YAML ({detail})") from None
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
