"""`newsdesk up`: the whole system on one machine, supervised in the foreground.

Children, each in its own process group (so a signal reaches its grandchildren too — the
server's workers, the flow-run processes of `serve`):

* Elasticsearch — the local node of `newsdesk.es_node` (skipped when `NEWSDESK_ES_URL` is set);
  it runs detached in its own session, so it is watched by pid and stopped with `es_node.stop`,
  and only when `up` started it.
* `prefect-server` — a real Prefect server whose SQLite database lives in
  `<data_dir>/prefect`, so schedules, runs, events and automations survive a restart.
* `serve` — `newsdesk serve`: registers and runs the deployments and creates the automations.
* `api` — `newsdesk api`, the search API and web page, when that command exists.
* `websub` — `newsdesk websub serve`, when `NEWSDESK_WEBSUB_CALLBACK_URL` is set.

`<data_dir>/up/state.json` records the supervisor and its children so `newsdesk status` and
`newsdesk down` work from another terminal; logs go to `<data_dir>/up/logs/<child>.log`.
SIGINT/SIGTERM stop everything (SIGTERM to each group, SIGKILL after a grace period). If a child
dies, the others are stopped and `up` exits non-zero naming it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx
from pydantic import BaseModel, Field

from newsdesk import prefect_server
from newsdesk.errors import NewsdeskError
from newsdesk.settings import Settings

GRACE_SECONDS = 10.0
READY_TIMEOUT = 240.0
Log = Callable[[str], None]


class SupervisorError(NewsdeskError):
    pass


class Child(BaseModel):
    name: str
    pid: int
    command: list[str]
    log: str
    url: str | None = None
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    external: bool = Field(
        default=False, description="Not our child (the detached Elasticsearch node)."
    )


class UpState(BaseModel):
    pid: int
    data_dir: str
    phase: Literal["starting", "running", "stopping"] = "starting"
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    dashboard_url: str | None = None
    prefect_api_url: str | None = None
    api_url: str | None = None
    es_url: str | None = None
    es_started: bool = False
    children: list[Child] = Field(default_factory=list)


class ChildStatus(BaseModel):
    name: str
    pid: int
    alive: bool
    url: str | None = None
    healthy: bool | None = None


class Status(BaseModel):
    running: bool
    phase: str | None = None
    supervisor_pid: int | None = None
    dashboard_url: str | None = None
    api_url: str | None = None
    es_url: str | None = None
    children: list[ChildStatus] = Field(default_factory=list)


def up_dir(settings: Settings) -> Path:
    return settings.data_dir / "up"


def state_path(settings: Settings) -> Path:
    return up_dir(settings) / "state.json"


def read_state(settings: Settings) -> UpState | None:
    try:
        return UpState.model_validate_json(state_path(settings).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise SupervisorError(f"{state_path(settings)}: unreadable ({exc}); remove it") from None


def _write_state(settings: Settings, state: UpState) -> None:
    path = state_path(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.model_dump_json(indent=1), "utf-8")
    tmp.replace(path)


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int, *, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def newsdesk_command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "newsdesk.cli", *args]


def spawn(args: list[str], *, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`newsdesk <args>` in its own process group (session), output appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        return subprocess.Popen(
            newsdesk_command(args),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


class Supervisor:
    """Starts the children in order, watches them, and stops them all on the way out."""

    def __init__(
        self,
        settings: Settings,
        *,
        prefect_port: int = 4200,
        api_port: int = 8000,
        feeds_file: Path | None = None,
        with_api: bool = True,
        websub: bool | None = None,
        log: Log = print,
    ) -> None:
        self.settings = settings
        self.prefect_port = prefect_port
        self.api_port = api_port
        self.feeds_file = feeds_file
        self.with_api = with_api
        self.websub = websub
        self.log = log
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.state = UpState(pid=os.getpid(), data_dir=str(settings.data_dir))
        self.stop_requested: str | None = None
        self._lock_fd: int | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def claim(self) -> None:
        """Refuse to start twice on one data dir (an flock held for the supervisor's life)."""
        directory = up_dir(self.settings)
        (directory / "logs").mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = read_state(self.settings)
            pid = f" (pid {other.pid})" if other else ""
            raise SupervisorError(
                f"newsdesk is already up on {self.settings.data_dir}{pid}; "
                "run `newsdesk down` first"
            ) from None
        self._lock_fd = fd
        stale = read_state(self.settings)
        if stale is not None:
            self.log("cleaning up after an earlier `up` that did not stop cleanly")
            stop_recorded(self.settings, stale, log=self.log)
        for port, what in ((self.prefect_port, "Prefect server"), (self.api_port, "API")):
            if not port_free(port):
                raise SupervisorError(
                    f"port {port} for the {what} is in use; choose another "
                    f"(--{'prefect' if what.startswith('P') else 'api'}-port)"
                )

    def release(self) -> None:
        state_path(self.settings).unlink(missing_ok=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def request_stop(self, signum: int, _frame: object = None) -> None:
        self.stop_requested = signal.Signals(signum).name

    # --- starting -------------------------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PREFECT_API_URL": self.state.prefect_api_url or "",
                "PREFECT_HOME": str(self.settings.data_dir / "prefect"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
                "NEWSDESK_DATA_DIR": str(self.settings.data_dir),
            }
        )
        if self.state.es_url:
            env["NEWSDESK_ES_URL"] = self.state.es_url
        if self.state.api_url:
            env.setdefault("NEWSDESK_SEARCH_URL", self.state.api_url)
        if self.feeds_file:
            env["NEWSDESK_FEEDS_FILE"] = str(self.feeds_file)
        return env

    def _spawn(self, name: str, args: list[str], url: str | None = None) -> None:
        log_path = up_dir(self.settings) / "logs" / f"{name}.log"
        proc = spawn(args, env=self._child_env(), log_path=log_path)
        self.procs[name] = proc
        self.state.children.append(
            Child(
                name=name, pid=proc.pid, command=newsdesk_command(args), log=str(log_path), url=url
            )
        )
        _write_state(self.settings, self.state)
        self.log(f"{name} started (pid {proc.pid}, log {log_path})")

    def start_elasticsearch(self) -> None:
        from newsdesk import es_node

        if self.settings.es_url:
            self.state.es_url = self.settings.es_url
            self.log(f"Elasticsearch: using {self.settings.es_url} (NEWSDESK_ES_URL)")
            return
        running = es_node.status(self.settings)
        info = running or es_node.start(self.settings, log=lambda m: self.log(f"  {m}"))
        self.state.es_url = info.url
        self.state.es_started = running is None
        self.state.children.append(
            Child(
                name="elasticsearch",
                pid=info.pid,
                command=["elasticsearch"],
                log=str(Path(info.node_dir) / "logs"),
                url=info.url,
                external=True,
            )
        )
        _write_state(self.settings, self.state)
        how = "started" if self.state.es_started else "already running, reused"
        self.log(f"Elasticsearch {info.version} {how} at {info.url} (pid {info.pid})")

    def start_prefect(self) -> None:
        home = self.settings.data_dir / "prefect"
        url = f"http://127.0.0.1:{self.prefect_port}"
        self.state.prefect_api_url = f"{url}/api"
        self.state.dashboard_url = url
        log_path = up_dir(self.settings) / "logs" / "prefect-server.log"
        proc = prefect_server.start(home, self.prefect_port, log_file=log_path)
        self.procs["prefect-server"] = proc
        self.state.children.append(
            Child(
                name="prefect-server",
                pid=proc.pid,
                command=["prefect", "server", "start"],
                log=str(log_path),
                url=url,
            )
        )
        _write_state(self.settings, self.state)
        self.log(f"prefect-server starting (pid {proc.pid}, database {home / 'prefect.db'})")
        self._wait(lambda: _healthy(f"{url}/api/health"), "prefect-server", READY_TIMEOUT)
        self.log(f"prefect-server ready: dashboard {url}")

    def start_serve(self) -> None:
        args = ["serve"]
        if self.feeds_file:
            args += ["--feeds", str(self.feeds_file)]
        from newsdesk.sources import load_feeds

        feeds = load_feeds(self.feeds_file or self.settings.feeds_file)
        expected = 1 + len(feeds.group_names())
        since = datetime.now(UTC)
        self._spawn("serve", args)
        api = self.state.prefect_api_url or ""
        self._wait(lambda: _deployments_registered(api, expected, since), "serve", READY_TIMEOUT)
        self.log("serve ready: deployments registered, automations created")

    def start_api(self) -> None:
        if not self.with_api:
            return
        url = f"http://127.0.0.1:{self.api_port}"
        self.state.api_url = url
        self._spawn("api", ["api", "--host", "127.0.0.1", "--port", str(self.api_port)], url)
        self._wait(lambda: _healthy(f"{url}/health", ok=(200, 503)), "api", READY_TIMEOUT)
        self.log(f"api ready: search page {url}/  API docs {url}/docs")

    def start_websub(self) -> None:
        from newsdesk.websub import WebSubSettings

        ws = WebSubSettings()
        enabled = self.websub if self.websub is not None else bool(ws.websub_callback_url)
        if not enabled:
            return
        url = f"http://{ws.websub_host}:{ws.websub_port}"
        self._spawn("websub", ["websub", "serve"], url)
        self.log(f"websub callback listening on {url} (public: {ws.websub_callback_url})")

    def start_all(self) -> None:
        _write_state(self.settings, self.state)
        for step in (
            self.start_elasticsearch,
            self.start_prefect,
            self.start_api,
            self.start_serve,
            self.start_websub,
        ):
            if self.stop_requested:
                return
            step()
        self.state.phase = "running"
        _write_state(self.settings, self.state)

    def _wait(self, ready: Callable[[], bool], name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stop_requested:
                return
            dead = self.dead_child()
            if dead:
                raise SupervisorError(dead)
            if ready():
                return
            time.sleep(0.5)
        raise SupervisorError(f"{name} not ready after {timeout:.0f} s (see its log)")

    # --- watching and stopping ------------------------------------------------------------

    def dead_child(self) -> str | None:
        """Why a child is gone, or None while all run."""
        for child in self.state.children:
            if child.external:
                if self.state.es_started and not alive(child.pid):
                    return f"{child.name} (pid {child.pid}) is gone; see {child.log}"
                continue
            proc = self.procs.get(child.name)
            if proc is None or proc.poll() is None:
                continue
            code = proc.returncode
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited {code}"
            return f"{child.name} (pid {child.pid}) {how}; last log lines:\n{_tail(child.log)}"
        return None

    def statuses(self) -> list[ChildStatus]:
        return [
            ChildStatus(name=c.name, pid=c.pid, alive=alive(c.pid), url=c.url)
            for c in self.state.children
        ]

    def stop_all(self) -> None:
        self.state.phase = "stopping"
        with contextlib.suppress(OSError):
            _write_state(self.settings, self.state)
        for child in reversed(self.state.children):
            if child.external:
                continue
            proc = self.procs.get(child.name)
            self.log(f"stopping {child.name} (pid {child.pid})")
            kill_group(child.pid)
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        if self.state.es_started:
            from newsdesk import es_node

            self.log("stopping Elasticsearch")
            es_node.stop(self.settings)


def _tail(path: str, lines: int = 8) -> str:
    try:
        text = Path(path).read_text("utf-8", errors="replace")
    except OSError:
        return "  (no log)"
    return "\n".join(f"  {line}" for line in text.splitlines()[-lines:])


def _healthy(url: str, ok: tuple[int, ...] = (200,)) -> bool:
    try:
        return httpx.get(url, timeout=10).status_code in ok
    except httpx.HTTPError:
        return False


def _deployments_registered(api_url: str, expected: int, since: datetime) -> bool:
    """True once `serve` registered (created or updated, after `since`) every deployment: the
    event-triggered one and one per source group. After a restart the deployments already
    exist, so existing is not enough."""
    try:
        resp = httpx.post(
            f"{api_url}/deployments/filter",
            json={"deployments": {"tags": {"all_": ["newsdesk"]}}, "limit": 200},
            timeout=5,
        )
    except httpx.HTTPError:
        return False
    if resp.status_code != 200:
        return False
    fresh = {d["name"] for d in resp.json() if datetime.fromisoformat(d["updated"]) >= since}
    return "on-event" in fresh and len(fresh) >= expected


def stop_recorded(settings: Settings, state: UpState, *, log: Log = print) -> None:
    """Stop what a (dead or unresponsive) supervisor recorded: children, then its ES node."""
    for child in reversed(state.children):
        if child.external or not group_alive(child.pid):
            continue
        log(f"stopping {child.name} (pid {child.pid})")
        kill_group(child.pid)
    if state.es_started:
        from newsdesk import es_node

        if es_node.stop(settings):
            log("stopped Elasticsearch")
    state_path(settings).unlink(missing_ok=True)


def down(settings: Settings, *, timeout: float = 90.0, log: Log = print) -> bool:
    """Stop a running `up` from anywhere; True if something was running."""
    state = read_state(settings)
    if state is None:
        return False
    if alive(state.pid):
        log(f"asking newsdesk up (pid {state.pid}) to stop")
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive(state.pid):
            time.sleep(0.2)
        if alive(state.pid):
            log(f"newsdesk up (pid {state.pid}) did not stop in {timeout:.0f} s; killing")
            with contextlib.suppress(ProcessLookupError):
                os.kill(state.pid, signal.SIGKILL)
    leftover = read_state(settings)
    if leftover is not None:
        stop_recorded(settings, leftover, log=log)
    return True


def status(settings: Settings) -> Status:
    state = read_state(settings)
    if state is None or not alive(state.pid):
        return Status(running=False)
    children = []
    for child in state.children:
        healthy = None
        if child.name == "prefect-server" and child.url:
            healthy = _healthy(f"{child.url}/api/health")
        elif child.name == "api" and child.url:
            healthy = _healthy(f"{child.url}/health")
        elif child.name == "elasticsearch" and child.url:
            healthy = _healthy(f"{child.url}/_cluster/health")
        children.append(
            ChildStatus(
                name=child.name,
                pid=child.pid,
                alive=alive(child.pid),
                url=child.url,
                healthy=healthy,
            )
        )
    return Status(
        running=True,
        phase=state.phase,
        supervisor_pid=state.pid,
        dashboard_url=state.dashboard_url,
        api_url=state.api_url,
        es_url=state.es_url,
        children=children,
    )


@contextlib.contextmanager
def signals_to(handler: Callable[[int, object], None]) -> Iterator[None]:
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(
    supervisor: Supervisor,
    *,
    on_tick: Callable[[Supervisor], None] | None = None,
    tick: float = 1.0,
) -> int:
    """Start everything, watch until a signal or a death, stop everything; the exit code."""
    supervisor.claim()
    code = 0
    try:
        with signals_to(supervisor.request_stop):
            try:
                supervisor.start_all()
            except NewsdeskError as exc:
                supervisor.log(f"error: {exc}")
                code = 1
            while code == 0 and not supervisor.stop_requested:
                dead = supervisor.dead_child()
                if dead:
                    supervisor.log(f"error: {dead}")
                    supervisor.log("stopping the others")
                    code = 1
                    break
                if on_tick:
                    on_tick(supervisor)
                time.sleep(tick)
            if supervisor.stop_requested:
                supervisor.log(f"received {supervisor.stop_requested}, stopping")
            supervisor.stop_all()
    finally:
        supervisor.release()
    supervisor.log("all stopped" if code == 0 else "all stopped (after a failure)")
    return code


def status_json(settings: Settings) -> str:
    return json.dumps(status(settings).model_dump(mode="json"), indent=2)
