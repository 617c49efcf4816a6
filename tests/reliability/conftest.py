"""Shared machinery of the reliability tests: time limits, a watchdog against hangs, private
devices and compiler caches, and the checks that nothing was left behind after a failure.

Every test here runs under a watchdog (``faulthandler.dump_traceback_later``): a test that hangs
longer than its budget dumps every thread's stack and ends the process, so CI fails instead of
waiting forever. The budget is :data:`WATCHDOG_SECONDS` (plus the soak duration for the soak test).
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.helpers import BIN, tool  # noqa: F401 (tool: re-exported for the tests of this folder)

from furiosa.compiler import cache

#: every single bad input must be refused within this many seconds
TIME_LIMIT = 20.0
#: a test that runs longer than this is considered hung (the process is ended with its stacks)
WATCHDOG_SECONDS = 300.0



def soak_seconds() -> float:
    """How long the soak test drives traffic: ``FURIOSA_SOAK_SECONDS`` or ``--soak-seconds`` (default 60)."""
    return float(os.environ.get("FURIOSA_SOAK_SECONDS", "60"))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reliability")
    group.addoption("--soak-seconds", type=float, default=None,
                    help="how long tests/reliability/test_soak.py drives traffic "
                         "(default 60, env FURIOSA_SOAK_SECONDS)")
    group.addoption("--fuzz-examples", type=int, default=None,
                    help="examples per fuzz target in tests/reliability (default: the CI budget, env "
                         "FURIOSA_FUZZ_EXAMPLES)")


def pytest_configure(config: pytest.Config) -> None:
    seconds = config.getoption("--soak-seconds", default=None)
    if seconds is not None:
        os.environ["FURIOSA_SOAK_SECONDS"] = str(seconds)
    examples = config.getoption("--fuzz-examples", default=None)
    if examples is not None:
        os.environ["FURIOSA_FUZZ_EXAMPLES"] = str(examples)


@pytest.fixture(autouse=True)
def watchdog(request) -> Iterator[None]:
    """End the process with every thread's stack if the test hangs."""
    budget = WATCHDOG_SECONDS + (soak_seconds() * 2 if "soak" in request.node.nodeid else 0)
    faulthandler.dump_traceback_later(budget, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@contextlib.contextmanager
def within(seconds: float = TIME_LIMIT, what: str = "the operation") -> Iterator[None]:
    """Assert that the block finishes within ``seconds`` (whether it raises or not)."""
    started = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - started
        assert elapsed < seconds, f"{what} took {elapsed:.1f} s (limit {seconds} s)"


def refused(error: BaseException, *words: str) -> str:
    """The message of ``error``, checked to be one clear line naming ``words`` (case-insensitive)."""
    message = str(error)
    assert message.strip(), f"{type(error).__name__} without a message"
    assert "\n" not in message.strip(), f"a multi-line message: {message!r}"
    assert len(message) < 2000, f"an unreadable message of {len(message)} characters"
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"
    return message


# --- devices and the compiler cache ----------------------------------------------------------------
@pytest.fixture
def devices(tmp_path, monkeypatch) -> Path:
    """A private device state directory: every emulated device is free."""
    path = tmp_path / "devices"
    monkeypatch.setenv("FURIOSA_EMU_STATE_DIR", str(path))
    monkeypatch.delenv("FURIOSA_DEVICES", raising=False)
    return path


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Iterator[Path]:
    """A private, empty compiler cache directory (and no memory of earlier stores or warnings)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("FC_CACHE_STORE_URL", str(path))
    for name in ("FC_CACHE_ENABLED", "FC_CACHE_LIFETIME"):
        monkeypatch.delenv(name, raising=False)
    cache.reset()
    yield path
    cache.reset()


def cache_entries(path: Path) -> dict[str, bytes]:
    """The entries of a cache directory, each checked to be whole and valid (no temporary files)."""
    if not path.exists():
        return {}
    leftovers = [p.name for p in path.iterdir() if p.is_file() and not p.name.endswith(".enfc")]
    assert not leftovers, f"temporary or foreign files in the cache: {leftovers}"
    entries = {}
    for entry in sorted(path.glob("*.enfc")):
        data = entry.read_bytes()
        cache.decode_entry(data, str(entry))  # raises CorruptEntry for a poisoned entry
        entries[entry.stem] = data
    return entries


def leftovers(directory: Path, *names: str) -> list[str]:
    """Files a failed command may have left in ``directory``: ``names`` or temporary files."""
    found = [n for n in names if (directory / n).exists()]
    found += [p.name for p in directory.iterdir() if p.name.endswith(".part") or p.name.startswith(".")]
    return found


# --- command lines -----------------------------------------------------------------------------------
@pytest.fixture
def cli_env(tmp_path) -> dict[str, str]:
    """The environment of a command: private devices and cache."""
    env = dict(os.environ)
    env["FURIOSA_EMU_STATE_DIR"] = str(tmp_path / "devices")
    env["FC_CACHE_STORE_URL"] = str(tmp_path / "cache")
    for name in ("FC_CACHE_ENABLED", "FC_CACHE_LIFETIME", "FURIOSA_DEVICES"):
        env.pop(name, None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def error_line(result: subprocess.CompletedProcess) -> str:
    """The ``error: ...`` line a failed command ends with (checked: exit 1, no traceback, one error line)."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    return errors[0]


# --- a Redis server of the test's own ------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """``redis-server`` on loopback, started and ended by the test."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists()
                                                  else None)
        if binary is None:
            pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
        pytest.importorskip("redis", reason="the redis Python package is not installed")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        import redis

        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.02)
        self.stop()
        pytest.fail("redis-server did not start")

    def keys(self) -> list[bytes]:
        import redis

        client = redis.Redis.from_url(self.url)
        return [k for k in client.keys(cache.KEY_PREFIX + "*") if b"lock:" not in k]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
