"""robots.txt politeness: who may be fetched, how often, and how many at once per host.

`RobotsPolicy` is shared by all worker threads of a `Fetcher`. Before each request it gives a
slot for the URL's origin: robots.txt allows the path (cached per origin with a TTL), the
per-host spacing (the larger of our minimum delay and the site's Crawl-delay, capped) has passed
since the previous request started, and fewer than `per_host_concurrency` requests to that
origin are in flight. A robots.txt answered with 5xx (or not at all) pauses the host, i.e.
disallows everything until `error_pause` passes; a 4xx robots.txt allows everything.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newsdesk.errors import BlockedURL, PermanentError, PermanentHTTPStatus, TransientError

if TYPE_CHECKING:
    from newsdesk.fetch import Fetcher

ROBOTS_TTL = 3600.0
ROBOTS_ERROR_PAUSE = 600.0
CRAWL_DELAY_CAP = 10.0
ROBOTS_MAX_BYTES = 512 * 1024
MAX_RULES = 5000
ROBOTS_AGENT = "newsdesk"


@dataclass(frozen=True)
class RobotsRules:
    """The rules of the group that applies to us; `disallow_all` marks a paused host."""

    rules: tuple[tuple[bool, str], ...] = ()
    crawl_delay: float | None = None
    disallow_all: bool = False
    _compiled: dict[str, re.Pattern[str]] = field(default_factory=dict, compare=False)

    def allows(self, url: str) -> bool:
        """Longest matching pattern wins; Allow wins a tie; no match means allowed."""
        if self.disallow_all:
            return False
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if path == "/robots.txt":
            return True
        best_len = -1
        verdict = True
        for allow, pattern in self.rules:
            if len(pattern) < best_len or not self._matches(pattern, path):
                continue
            if len(pattern) > best_len or allow:
                best_len, verdict = len(pattern), allow
        return verdict

    def _matches(self, pattern: str, path: str) -> bool:
        if "*" not in pattern and not pattern.endswith("$"):
            return path.startswith(pattern)
        regex = self._compiled.get(pattern)
        if regex is None:
            anchored = pattern.endswith("$")
            body = pattern[:-1] if anchored else pattern
            regex = re.compile(
                ".*?".join(re.escape(piece) for piece in body.split("*"))
                + (r"\Z" if anchored else "")
            )
            self._compiled[pattern] = regex
        return regex.match(path) is not None


ALLOW_ALL = RobotsRules()
DISALLOW_ALL = RobotsRules(disallow_all=True)


def parse_robots(text: str, agent: str = ROBOTS_AGENT) -> RobotsRules:
    """The rules for `agent` from robots.txt text: its own groups if any, else those for `*`."""
    groups: list[tuple[list[str], list[tuple[bool, str]], list[float]]] = []
    current: tuple[list[str], list[tuple[bool, str]], list[float]] | None = None
    in_agents = False
    for raw in text.lstrip("\ufeff").splitlines()[: MAX_RULES * 4]:
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name in ("user-agent", "useragent"):
            if current is None or not in_agents:
                current = ([], [], [])
                groups.append(current)
            current[0].append(value.lower())
            in_agents = True
            continue
        in_agents = False
        if current is None:
            continue
        if name in ("allow", "disallow") and value and len(current[1]) < MAX_RULES:
            current[1].append((name == "allow", _normalise(value)))
        elif name == "crawl-delay":
            with contextlib.suppress(ValueError):
                current[2].append(float(value))
    token = agent.lower()
    mine = [g for g in groups if any(a.split("/")[0].strip() == token for a in g[0])]
    chosen = mine or [g for g in groups if "*" in g[0]]
    rules = tuple(rule for g in chosen for rule in g[1])
    delays = [d for g in chosen for d in g[2] if d >= 0]
    return RobotsRules(rules=rules, crawl_delay=max(delays) if delays else None)


def _normalise(pattern: str) -> str:
    return pattern if pattern.startswith(("/", "*")) else "/" + pattern


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    robots_lock: threading.Lock = field(default_factory=threading.Lock)
    slots: threading.BoundedSemaphore | None = None
    rules: RobotsRules | None = None
    expires: float = 0.0
    next_start: float = 0.0


class RobotsPolicy:
    """Thread-safe robots.txt cache plus per-host spacing and concurrency limits."""

    def __init__(
        self,
        *,
        agent: str = ROBOTS_AGENT,
        ttl: float = ROBOTS_TTL,
        error_pause: float = ROBOTS_ERROR_PAUSE,
        crawl_delay_cap: float = CRAWL_DELAY_CAP,
        min_delay: float = 0.0,
        per_host_concurrency: int = 2,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.agent = agent
        self.ttl = ttl
        self.error_pause = error_pause
        self.crawl_delay_cap = crawl_delay_cap
        self.min_delay = min_delay
        self.per_host_concurrency = max(1, per_host_concurrency)
        self._clock = clock
        self._sleep = sleep
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    def _host(self, key: str) -> _Host:
        with self._lock:
            host = self._hosts.get(key)
            if host is None:
                host = _Host(slots=threading.BoundedSemaphore(self.per_host_concurrency))
                self._hosts[key] = host
            return host

    def rules_for(self, url: str, fetcher: Fetcher) -> RobotsRules:
        """The cached rules for the URL's origin, fetching robots.txt when missing or stale."""
        key = origin_of(url)
        host = self._host(key)
        with host.robots_lock:
            if host.rules is None or self._clock() >= host.expires:
                host.rules, lifetime = self._load(key, fetcher)
                host.expires = self._clock() + lifetime
            return host.rules

    def _load(self, origin: str, fetcher: Fetcher) -> tuple[RobotsRules, float]:
        try:
            page = fetcher.fetch(
                f"{origin}/robots.txt",
                accept="text/plain",
                max_bytes=ROBOTS_MAX_BYTES,
                truncate=True,
                use_robots=False,
            )
        except TransientError:
            return DISALLOW_ALL, self.error_pause
        except PermanentHTTPStatus as exc:
            if exc.status >= 500:
                return DISALLOW_ALL, self.error_pause
            return ALLOW_ALL, self.ttl
        except PermanentError:
            return ALLOW_ALL, self.ttl
        if page.not_modified:
            return ALLOW_ALL, self.ttl
        return parse_robots(page.content.decode("utf-8", errors="replace"), self.agent), self.ttl

    def allowed(self, url: str, fetcher: Fetcher) -> bool:
        return self.rules_for(url, fetcher).allows(url)

    def delay_for(self, rules: RobotsRules) -> float:
        return max(self.min_delay, min(rules.crawl_delay or 0.0, self.crawl_delay_cap))

    @contextlib.contextmanager
    def slot(self, url: str, fetcher: Fetcher) -> Iterator[None]:
        """Hold one of the host's request slots, after robots.txt and spacing allow it."""
        rules = self.rules_for(url, fetcher)
        if not rules.allows(url):
            reason = "host paused: robots.txt failed" if rules.disallow_all else "robots.txt"
            raise BlockedURL(f"disallowed by {reason}", url=url)
        host = self._host(origin_of(url))
        assert host.slots is not None
        delay = self.delay_for(rules)
        with host.slots:
            with host.lock:
                now = self._clock()
                start = max(now, host.next_start)
                host.next_start = start + delay
            if start > now:
                self._sleep(start - now)
            try:
                yield
            finally:
                # Spacing also counts from the end of this request, so the host sees the gap
                # even when this request was slow to arrive (a new connection, a busy client).
                with host.lock:
                    host.next_start = max(host.next_start, self._clock() + delay)
