"""The compiler cache: compiled programs kept for reuse (spec/toolchain-api.md §6).

A compilation is looked up by a key that covers everything that decides its result: the model
bytes (and the external data files an ONNX model names), the compiler (its version and a
fingerprint of its source, so an edited compiler never serves stale programs), the target NPU,
the batch size and the compiler configuration. The command lines and the runtime both go
through :func:`compile_cached`.

Settings come from the environment (:mod:`furiosa.common.settings`): ``FC_CACHE_ENABLED``
(on by default), ``FC_CACHE_STORE_URL`` (a directory, default ``~/.cache/furiosa/compiler``, or
``redis://`` / ``rediss://``) and ``FC_CACHE_LIFETIME`` (seconds; ``0`` ignores every earlier
entry and recompiles, a negative value never expires; default 30 days).

Guarantees:

* an entry is written whole or not at all (a temporary file renamed into place; one Redis SET);
* processes compiling the same model at once take a per-key lock, so one compiles and the
  others read its result (a lock that is not released within :data:`LOCK_WAIT` seconds is
  ignored, never waited on forever);
* an entry is checked before use (header and the ENF file's own SHA-256); a corrupt entry is
  deleted and the model recompiled;
* a cache that cannot be used (unreadable directory, Redis down, a bad setting) is reported
  once per process with one warning, and compilation goes on without it.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import json
import logging
import os
import struct
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol

from furiosa.common import settings
from furiosa.common.errors import CompilerWarning, warn_user
from furiosa.common.version import emulator_version

from . import enf
from .config import CompilerConfig
from .source import detect

log = logging.getLogger("furiosa.compiler.cache")

ENTRY_MAGIC = b"FCCACHE1"
ENTRY_HEADER = struct.Struct("<8sq")  # magic, creation time (ns since the epoch)
KEY_PREFIX = "furiosa:compiler-cache:v1:"
LOCK_WAIT = 300.0
REDIS_TIMEOUT = 3.0


# --- settings --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CacheSettings:
    """Whether and where to cache, and how long entries live (seconds; < 0 forever)."""

    enabled: bool
    url: str
    lifetime: int

    @classmethod
    def from_env(cls) -> "CacheSettings":
        """Read ``FC_CACHE_ENABLED``, ``FC_CACHE_STORE_URL``, ``FC_CACHE_LIFETIME``; raise ValueError if bad."""
        return cls(settings.compiler_cache_enabled(), settings.compiler_cache_url(),
                   settings.compiler_cache_lifetime())

    def fresh(self, created_ns: int, now_ns: int | None = None) -> bool:
        """Whether an entry written at ``created_ns`` may still be used."""
        if self.lifetime < 0:
            return True
        if self.lifetime == 0:
            return False
        now = time.time_ns() if now_ns is None else now_ns
        return now - created_ns < self.lifetime * 1_000_000_000


# --- keys ------------------------------------------------------------------------------------
_FINGERPRINTED = ("compiler", "quantizer", "common")


@functools.lru_cache(maxsize=1)
def compiler_fingerprint() -> str:
    """The compiler's version and a digest of the source it compiles with."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(emulator_version().encode())
    for package in _FINGERPRINTED:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                continue
    return f"{emulator_version()}+{digest.hexdigest()[:16]}"


def _external_data(data: bytes, base_dir: Path | None) -> dict[str, str] | None:
    """Digests of the external data files an ONNX model names ({} when it has none).

    ``None`` when they cannot be read (the compiler then reports the problem itself).
    """
    if base_dir is None or b"location" not in data:
        return {}
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception:
        return {}
    files: dict[str, str] = {}
    for tensor in model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), None)
        if location is None or location in files:
            continue
        try:
            files[location] = hashlib.sha256((base_dir / location).read_bytes()).hexdigest()
        except OSError:
            return None
    return files


def cache_key(data: bytes, *, target: str, batch_size: int, config: Mapping[str, Any],
              external: Mapping[str, str] | None = None) -> str:
    """The key of one compilation: a SHA-256 over everything that decides its result."""
    parts = {
        "model": hashlib.sha256(data).hexdigest(),
        "external_data": dict(sorted((external or {}).items())),
        "compiler": compiler_fingerprint(),
        "target": target,
        "batch_size": batch_size,
        "config": config,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# --- entries ---------------------------------------------------------------------------------
class CorruptEntry(ValueError):
    """A cache entry that is not a complete, valid compiled program."""


def encode_entry(enf_bytes: bytes, created_ns: int | None = None) -> bytes:
    return ENTRY_HEADER.pack(ENTRY_MAGIC, time.time_ns() if created_ns is None else created_ns) + enf_bytes


def decode_entry(entry: bytes, origin: str) -> tuple[int, memoryview, enf.Program]:
    """Creation time, ENF bytes (a view into ``entry``) and program of an entry; :class:`CorruptEntry` if damaged."""
    if len(entry) < ENTRY_HEADER.size:
        raise CorruptEntry(f"{origin}: entry of {len(entry)} bytes is truncated")
    magic, created = ENTRY_HEADER.unpack_from(entry)
    if magic != ENTRY_MAGIC:
        raise CorruptEntry(f"{origin}: not a compiler cache entry")
    payload = memoryview(bytes(entry) if not isinstance(entry, bytes) else entry)[ENTRY_HEADER.size:]  # no copy
    try:
        program = enf.read(payload, origin)
    except enf.EnfFormatError as error:
        raise CorruptEntry(str(error)) from None
    return created, payload, program


# --- stores ----------------------------------------------------------------------------------
class StoreUnavailable(RuntimeError):
    """The store cannot be used (unreachable server, unwritable directory...)."""


class Store(Protocol):
    description: str

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, entry: bytes, lifetime: int) -> None: ...

    def delete(self, key: str) -> None: ...

    def lock(self, key: str, wait: float) -> contextlib.AbstractContextManager[bool]: ...


def _writer_gone(pid_text: str) -> bool:
    """Whether the process a temporary file is named after has ended (not when unsure)."""
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):
        return False
    return False


def remove_abandoned(directory: Path, pattern: str) -> None:
    """Delete the temporary files ``.<name>.<pid>.<random>.part`` matching ``pattern`` whose writer
    is gone: a process killed while writing (SIGKILL cannot be cleaned up after) leaves one."""
    try:
        candidates = list(directory.glob(pattern))
    except OSError:
        return
    for path in candidates:
        parts = path.name.split(".")
        if len(parts) >= 5 and parts[-1] == "part" and _writer_gone(parts[-3]):
            with contextlib.suppress(OSError):
                path.unlink()
                log.info("removed %s, left by a process that was killed while writing it", path)


class DirectoryStore:
    """Entries as files ``<key>.enfc`` in a directory; locks as ``flock`` on ``locks/<key>``.

    An entry is written to ``.<key>.<pid>.<random>.part`` and renamed; temporary files of
    processes that were killed while writing are removed when a process opens the store.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.description = str(self.path)
        try:
            (self.path / "locks").mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailable(f"cannot create the cache directory {self.path}: {error.strerror}") from None
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise StoreUnavailable(f"the cache directory {self.path} is not writable")
        remove_abandoned(self.path, ".*.part")

    def _file(self, key: str) -> Path:
        return self.path / f"{key}.enfc"

    def get(self, key: str) -> bytes | None:
        try:
            return self._file(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreUnavailable(f"cannot read {self._file(key)}: {error.strerror}") from None

    def put(self, key: str, entry: bytes, lifetime: int) -> None:
        target = self._file(key)
        try:
            fd, temporary = tempfile.mkstemp(prefix=f".{key[:16]}.{os.getpid()}.", suffix=".part", dir=self.path)
        except OSError as error:
            raise StoreUnavailable(f"cannot write to {self.path}: {error.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(entry)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(error, OSError):
                raise StoreUnavailable(f"cannot write {target}: {error.strerror}") from None
            raise

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._file(key).unlink()

    @contextlib.contextmanager
    def lock(self, key: str, wait: float) -> Iterator[bool]:
        """Hold the key's lock while compiling; yields False if it could not be had in time."""
        path = self.path / "locks" / key
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            yield False
            return
        try:
            deadline = time.monotonic() + wait
            held = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = True
                    break
                except OSError as error:
                    if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        break
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
            yield held
        finally:
            os.close(fd)  # closing releases the flock


class RedisStore:
    """Entries in a Redis server shared by several machines (``redis://`` or ``rediss://``)."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError:
            raise StoreUnavailable(
                f"{_redacted(url)} needs the 'redis' Python package (pip install redis)"
            ) from None
        self._redis = redis
        self.description = _redacted(url)
        try:
            self.client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT,
                                               socket_timeout=REDIS_TIMEOUT)
            self.client.ping()
        except (redis.RedisError, ValueError, OSError) as error:
            raise StoreUnavailable(f"cannot reach the Redis cache {self.description}: {error}") from None

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (self._redis.RedisError, OSError) as error:
            raise StoreUnavailable(f"the Redis cache {self.description} failed to {what}: {error}") from None

    def get(self, key: str) -> bytes | None:
        return self._call("read", lambda: self.client.get(KEY_PREFIX + key))

    def put(self, key: str, entry: bytes, lifetime: int) -> None:
        expiry = lifetime if lifetime > 0 else None
        self._call("write", lambda: self.client.set(KEY_PREFIX + key, entry, ex=expiry))

    def delete(self, key: str) -> None:
        self._call("delete", lambda: self.client.delete(KEY_PREFIX + key))

    @contextlib.contextmanager
    def lock(self, key: str, wait: float) -> Iterator[bool]:
        lock = self.client.lock(KEY_PREFIX + "lock:" + key, timeout=LOCK_WAIT, blocking_timeout=wait,
                                sleep=0.02)
        held = self._call("lock", lambda: lock.acquire(blocking=True))
        try:
            yield bool(held)
        finally:
            if held:
                with contextlib.suppress(self._redis.RedisError, OSError):
                    lock.release()


def _redacted(url: str) -> str:
    """A URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ':'}***@{host}"


_stores: dict[str, Store] = {}
_broken: dict[str, str] = {}
_reported: set[str] = set()
_state = threading.Lock()


def report_once(topic: str, message: str) -> None:
    """One warning per topic and process."""
    with _state:
        if topic in _reported:
            return
        _reported.add(topic)
    log.warning("compiler cache: %s; compiling without the cache", message)


def open_store(url: str) -> Store:
    """The store for a URL (one per process); raises :class:`StoreUnavailable`."""
    with _state:
        if url in _broken:
            raise StoreUnavailable(_broken[url])
        store = _stores.get(url)
    if store is not None:
        return store
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            store = RedisStore(url)
        elif "://" in url and not url.startswith("file://"):
            raise StoreUnavailable(
                f"FC_CACHE_STORE_URL={url!r} is not supported; use a directory, redis:// or rediss://"
            )
        else:
            store = DirectoryStore(url[len("file://"):] if url.startswith("file://") else url)
    except StoreUnavailable as error:
        with _state:
            _broken[url] = str(error)
        raise
    with _state:
        _stores[url] = store
    return store


def _disable(url: str, error: Exception) -> None:
    with _state:
        _broken[url] = str(error)
        _stores.pop(url, None)


def reset() -> None:
    """Forget open stores and reported problems (tests, long-lived processes after a fix)."""
    with _state:
        _stores.clear()
        _broken.clear()
        _reported.clear()


# --- compiling through the cache -------------------------------------------------------------
@dataclass(frozen=True)
class Compiled:
    """A compiled program, its ENF bytes, and whether it came from the cache."""

    program: enf.Program
    data: bytes | memoryview
    cached: bool = False
    key: str | None = None
    store: str | None = None


Compile = Callable[..., enf.Program]


def _compile(compile_fn: Compile, data: bytes, origin: str, base_dir: Path | None, target: str,
             batch_size: int | None, config: Any) -> enf.Program:
    return compile_fn(data, origin, base_dir, target=target, batch_size=batch_size, config=config)


def _default_compile() -> Compile:
    from .pipeline import compile_data

    return compile_data


def _key_for(data: bytes, base_dir: Path | None, target: str, batch_size: Any, config: Any) -> str | None:
    """The key, or None when the options are invalid (the compiler then says why)."""
    if target not in enf.TARGETS:
        return None
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        return None
    cfg = config if isinstance(config, CompilerConfig) else CompilerConfig.from_mapping(config)
    external = _external_data(data, base_dir)
    if external is None:
        return None
    return cache_key(data, target=target, batch_size=batch_size or 1, config=cfg.to_mapping(), external=external)


def _hit(store: Store, key: str, cache: CacheSettings, origin: str) -> Compiled | None:
    entry = store.get(key)
    if entry is None:
        return None
    try:
        created, payload, program = decode_entry(entry, f"compiler cache entry {key[:16]} ({store.description})")
    except CorruptEntry as error:
        report_once(f"corrupt:{cache.url}", f"a corrupt entry was found and removed ({error})")
        store.delete(key)
        return None
    if not cache.fresh(created):
        return None
    for message in program.warnings:
        warn_user(message, CompilerWarning)
    log.info("compiler cache hit for %s (key %s, %s)", origin, key[:16], store.description)
    return Compiled(program, payload, True, key, store.description)


def compile_cached(data: bytes, origin: str = "<bytes>", base_dir: Path | None = None, *,
                   target: str = "warboy-2pe", batch_size: int | None = None, config: Any = None,
                   use_cache: bool = True, compile_fn: Compile | None = None) -> Compiled:
    """Compile model bytes, through the compiler cache when it is enabled.

    ``use_cache=False`` bypasses the cache for this call (``--no-cache``); ENF sources are never
    cached. ``compile_fn`` (default :func:`furiosa.compiler.pipeline.compile_data`) does the
    compiling on a miss.
    """
    fn = compile_fn or _default_compile()

    def plain() -> Compiled:
        program = _compile(fn, data, origin, base_dir, target, batch_size, config)
        return Compiled(program, enf.write(program))

    if not use_cache or detect(data) == "enf":
        return plain()
    try:
        cache = CacheSettings.from_env()
    except ValueError as error:
        report_once("settings", str(error))
        return plain()
    if not cache.enabled:
        return plain()
    key = _key_for(data, base_dir, target, batch_size, config)
    if key is None:
        return plain()
    try:
        store = open_store(cache.url)
    except StoreUnavailable as error:
        report_once(f"store:{cache.url}", str(error))
        return plain()
    try:
        if cache.lifetime == 0:  # every earlier entry is invalid: recompile, then refresh the entry
            return _store_result(store, key, cache, _compile(fn, data, origin, base_dir, target, batch_size, config),
                                 origin)
        found = _hit(store, key, cache, origin)
        if found is not None:
            return found
        with store.lock(key, LOCK_WAIT) as held:
            if held:
                found = _hit(store, key, cache, origin)  # another process may have just compiled it
                if found is not None:
                    return found
            program = _compile(fn, data, origin, base_dir, target, batch_size, config)
            return _store_result(store, key, cache, program, origin)
    except StoreUnavailable as error:
        _disable(cache.url, error)
        report_once(f"store:{cache.url}", str(error))
        return plain()


def _store_result(store: Store, key: str, cache: CacheSettings, program: enf.Program, origin: str) -> Compiled:
    """Store a fresh compilation; a failing store is reported and the program returned anyway."""
    payload = enf.write(program)
    try:
        store.put(key, encode_entry(payload), cache.lifetime)
    except StoreUnavailable as error:
        _disable(cache.url, error)
        report_once(f"store:{cache.url}", str(error))
        return Compiled(program, payload)
    log.info("compiler cache: stored %s (key %s, %s)", origin, key[:16], store.description)
    return Compiled(program, payload, False, key, store.description)


def compile_data(data: bytes, origin: str = "<bytes>", base_dir: Path | None = None, *,
                 target: str = "warboy-2pe", batch_size: int | None = None, config: Any = None) -> enf.Program:
    """:func:`furiosa.compiler.pipeline.compile_data` through the compiler cache."""
    return compile_cached(data, origin, base_dir, target=target, batch_size=batch_size, config=config).program
