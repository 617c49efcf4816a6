"""The compiler cache: keys, directory and Redis stores, lifetime, corruption, concurrency."""
from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest

from furiosa.compiler import cache, pipeline

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory) -> bytes:
    from examples.zoo import calibration_data, quantize_qdq, small_cnn

    model = small_cnn()
    return quantize_qdq(model, calibration_data(model, 4)).SerializeToString()


@pytest.fixture(autouse=True)
def fresh(monkeypatch, tmp_path):
    """A private cache directory and no memory of earlier stores or warnings."""
    monkeypatch.setenv("FC_CACHE_STORE_URL", str(tmp_path / "cache"))
    for name in ("FC_CACHE_ENABLED", "FC_CACHE_LIFETIME"):
        monkeypatch.delenv(name, raising=False)
    cache.reset()
    yield
    cache.reset()


@pytest.fixture
def compiles(monkeypatch):
    """Counts the compilations that actually run."""
    calls = []
    real = pipeline.compile_data

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "compile_data", counting)
    return calls


def entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").glob("*.enfc"))


# --- keys ------------------------------------------------------------------------------------
def test_the_key_covers_model_target_batch_config_and_compiler(model_bytes):
    base = dict(target="warboy-2pe", batch_size=1, config={})
    key = cache.cache_key(model_bytes, **base)
    assert key == cache.cache_key(model_bytes, **base)
    assert key != cache.cache_key(model_bytes + b" ", **base)
    assert key != cache.cache_key(model_bytes, **dict(base, target="warboy"))
    assert key != cache.cache_key(model_bytes, **dict(base, batch_size=2))
    assert key != cache.cache_key(model_bytes, **dict(base, config={"remove_unlower": True}))
    assert key != cache.cache_key(model_bytes, **base, external={"w.bin": "0" * 64})
    assert cache.compiler_fingerprint().startswith(cache.emulator_version())


def test_the_key_covers_external_data(tmp_path):
    from examples.zoo import small_cnn

    model = small_cnn()
    onnx.save(model, tmp_path / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    data = (tmp_path / "m.onnx").read_bytes()
    first = cache._key_for(data, tmp_path, "warboy-2pe", None, None)
    weights = tmp_path / "weights.bin"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x01")
    assert cache._key_for(data, tmp_path, "warboy-2pe", None, None) != first


# --- the directory store ---------------------------------------------------------------------
def test_a_model_compiled_twice_hits_the_cache(model_bytes, compiles, tmp_path):
    first = cache.compile_cached(model_bytes, "m")
    second = cache.compile_cached(model_bytes, "m")
    assert (first.cached, second.cached) == (False, True)
    assert len(compiles) == 1
    assert first.data == second.data and first.program == second.program
    assert len(entries(tmp_path)) == 1
    # other options are other entries
    assert not cache.compile_cached(model_bytes, "m", target="warboy").cached
    assert not cache.compile_cached(model_bytes, "m", batch_size=2).cached
    assert not cache.compile_cached(model_bytes, "m", config={"remove_unlower": True}).cached
    assert len(entries(tmp_path)) == 4
    assert not cache.compile_cached(model_bytes, "m", use_cache=False).cached


def test_disabled_by_the_environment(model_bytes, compiles, monkeypatch, tmp_path):
    monkeypatch.setenv("FC_CACHE_ENABLED", "0")
    cache.compile_cached(model_bytes)
    cache.compile_cached(model_bytes)
    assert len(compiles) == 2 and not (tmp_path / "cache").exists()


def test_lifetime(model_bytes, compiles, monkeypatch, tmp_path):
    cache.compile_cached(model_bytes)
    entry = entries(tmp_path)[0]
    _, payload, _ = cache.decode_entry(entry.read_bytes(), "test")
    entry.write_bytes(cache.encode_entry(payload, time.time_ns() - 3600 * 10**9))  # written an hour ago
    monkeypatch.setenv("FC_CACHE_LIFETIME", "-1")  # never expires
    assert cache.compile_cached(model_bytes).cached
    monkeypatch.setenv("FC_CACHE_LIFETIME", "7200")
    assert cache.compile_cached(model_bytes).cached
    monkeypatch.setenv("FC_CACHE_LIFETIME", "60")  # expired: recompiled and rewritten
    assert not cache.compile_cached(model_bytes).cached
    assert cache.compile_cached(model_bytes).cached
    monkeypatch.setenv("FC_CACHE_LIFETIME", "0")  # every earlier entry is invalid
    assert not cache.compile_cached(model_bytes).cached
    assert not cache.compile_cached(model_bytes).cached
    monkeypatch.setenv("FC_CACHE_LIFETIME", "60")  # ... and the entry was refreshed
    assert cache.compile_cached(model_bytes).cached
    assert len(compiles) == 4


def test_the_default_lifetime_is_thirty_days(monkeypatch):
    assert cache.CacheSettings.from_env().lifetime == 30 * 24 * 3600


@pytest.mark.parametrize("damage", [lambda b: b[:-10], lambda b: b[:5], lambda b: b[:40] + b"\xff" + b[41:],
                                    lambda b: b"garbage" + b[7:]])
def test_a_corrupt_entry_is_reported_once_removed_and_recompiled(model_bytes, compiles, tmp_path, caplog, damage):
    good = cache.compile_cached(model_bytes)
    entry = entries(tmp_path)[0]
    entry.write_bytes(damage(entry.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="furiosa.compiler.cache"):
        again = cache.compile_cached(model_bytes)
        entry.write_bytes(damage(entry.read_bytes()))
        third = cache.compile_cached(model_bytes)
    assert not again.cached and not third.cached and again.program == good.program
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "corrupt" in warnings[0].getMessage()
    assert cache.compile_cached(model_bytes).cached  # rewritten whole


def test_an_unusable_directory_is_reported_once(model_bytes, compiles, monkeypatch, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("FC_CACHE_STORE_URL", str(blocker / "cache"))
    with caplog.at_level(logging.WARNING, logger="furiosa.compiler.cache"):
        first = cache.compile_cached(model_bytes)
        second = cache.compile_cached(model_bytes)
    assert not first.cached and not second.cached and len(compiles) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(blocker) in warnings[0] and "without the cache" in warnings[0]


@pytest.mark.parametrize("name, value", [("FC_CACHE_LIFETIME", "a week"), ("FC_CACHE_ENABLED", "maybe"),
                                         ("FC_CACHE_STORE_URL", "ftp://somewhere/cache")])
def test_a_bad_setting_is_reported_once(model_bytes, monkeypatch, caplog, name, value):
    monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger="furiosa.compiler.cache"):
        assert not cache.compile_cached(model_bytes).cached
        assert not cache.compile_cached(model_bytes).cached
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and name in warnings[0]


def test_errors_are_not_cached(tmp_path):
    with pytest.raises(ValueError):
        cache.compile_cached(b"not a model")
    assert not entries(tmp_path)
    with pytest.raises(ValueError, match="unknown compiler configuration key"):
        cache.compile_cached(b"x", config={"no_such_key": True})


def test_the_runtime_compiles_through_the_cache(model_bytes, compiles, tmp_path, monkeypatch):
    from furiosa.runtime import sync

    monkeypatch.setenv("FURIOSA_EMU_STATE_DIR", str(tmp_path / "devices"))
    for _ in range(2):
        with sync.create_runner(model_bytes) as runner:
            assert runner.model.input_num == 1
    assert len(compiles) == 1 and len(entries(tmp_path)) == 1


# --- concurrency -----------------------------------------------------------------------------
CONCURRENT = """
import sys, time
sys.path.insert(0, {root!r})
from furiosa.compiler import cache, pipeline
real = pipeline.compile_data
def slow(*args, **kwargs):
    time.sleep(1.0)  # both processes are inside the cache at once
    return real(*args, **kwargs)
data = open({model!r}, "rb").read()
while time.time() < {start}:
    time.sleep(0.005)
result = cache.compile_cached(data, "m", compile_fn=slow)
sys.stdout.write("hit" if result.cached else "compiled")
sys.stdout.buffer.write(b"\\n" + __import__("hashlib").sha256(result.data).hexdigest().encode())
"""


def run_two(tmp_path: Path, model_bytes: bytes, url: str) -> list[list[str]]:
    import os

    path = tmp_path / "model.onnx"
    path.write_bytes(model_bytes)
    script = CONCURRENT.format(root=str(ROOT), model=str(path), start=time.time() + 2.0)
    env = dict(os.environ, FC_CACHE_STORE_URL=url)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, text=True) for _ in range(2)]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outs.append(out.split())
    return outs


def test_two_processes_compiling_the_same_model_into_one_directory(model_bytes, tmp_path):
    outs = run_two(tmp_path, model_bytes, str(tmp_path / "cache"))
    assert sorted(o[0] for o in outs) == ["compiled", "hit"]
    assert outs[0][1] == outs[1][1]
    assert len(entries(tmp_path)) == 1
    assert not list((tmp_path / "cache").glob(".*.part"))


# --- Redis -----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    """A redis-server of our own on loopback (skipped without the binary or the redis package)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    pytest.importorskip("redis", reason="the redis Python package is not installed (pip install redis)")
    import redis

    port = _free_port()
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path), "--requirepass", "secret"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://:secret@127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.025)
    else:
        server.kill()
        pytest.fail("redis-server did not start")
    yield url, server, client
    server.terminate()
    server.wait(timeout=10)


def test_redis_hit_on_the_second_compilation(model_bytes, compiles, monkeypatch, redis_url):
    url, _, client = redis_url
    monkeypatch.setenv("FC_CACHE_STORE_URL", url)
    monkeypatch.setenv("FC_CACHE_LIFETIME", "600")
    first = cache.compile_cached(model_bytes)
    second = cache.compile_cached(model_bytes)
    assert (first.cached, second.cached) == (False, True) and len(compiles) == 1
    assert first.data == second.data
    keys = [k for k in client.keys(cache.KEY_PREFIX + "*") if b"lock:" not in k]
    assert len(keys) == 1 and 0 < client.ttl(keys[0]) <= 600
    assert "secret" not in second.store


def test_redis_corrupt_entry_is_replaced(model_bytes, compiles, monkeypatch, redis_url, caplog):
    url, _, client = redis_url
    monkeypatch.setenv("FC_CACHE_STORE_URL", url)
    cache.compile_cached(model_bytes)
    key = next(k for k in client.keys(cache.KEY_PREFIX + "*") if b"lock:" not in k)
    client.set(key, client.get(key)[:-100])
    with caplog.at_level(logging.WARNING, logger="furiosa.compiler.cache"):
        assert not cache.compile_cached(model_bytes).cached
    assert cache.compile_cached(model_bytes).cached
    assert sum("corrupt" in r.getMessage() for r in caplog.records) == 1


def test_redis_going_away_degrades_to_no_cache_with_one_warning(model_bytes, compiles, monkeypatch, redis_url,
                                                                caplog):
    url, server, _ = redis_url
    monkeypatch.setenv("FC_CACHE_STORE_URL", url)
    assert not cache.compile_cached(model_bytes).cached
    server.terminate()
    server.wait(timeout=10)
    with caplog.at_level(logging.WARNING, logger="furiosa.compiler.cache"):
        for _ in range(3):
            assert not cache.compile_cached(model_bytes).cached
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Redis" in warnings[0] and "secret" not in warnings[0]
    assert len(compiles) == 4


def test_an_unreachable_redis_is_reported_once(model_bytes, monkeypatch, caplog):
    pytest.importorskip("redis")
    monkeypatch.setenv("FC_CACHE_STORE_URL", f"redis://127.0.0.1:{_free_port()}")
    with caplog.at_level(logging.WARNING, logger="furiosa.compiler.cache"):
        assert not cache.compile_cached(model_bytes).cached
        assert not cache.compile_cached(model_bytes).cached
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_two_processes_compiling_the_same_model_into_one_redis(model_bytes, tmp_path, redis_url):
    url, _, client = redis_url
    outs = run_two(tmp_path, model_bytes, url)
    assert sorted(o[0] for o in outs) == ["compiled", "hit"]
    assert outs[0][1] == outs[1][1]
    assert len([k for k in client.keys(cache.KEY_PREFIX + "*") if b"lock:" not in k]) == 1
