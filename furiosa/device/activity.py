"""Device activity published by runtimes, read by ``furiosactl top``.

Each runtime engine publishes one small JSON file per device file it uses, in
``<state dir>/activity/<pid>.<devfile>.<n>.json`` (:func:`furiosa.common.settings.activity_dir`):
who it is (pid, command, device file) and cumulative counters since it opened the device:

* ``inferences``: inferences finished on the device;
* ``busy_ns``: wall-clock time the emulated device spent running them (measured);
* ``comp_ns`` / ``io_ns``: the modeled NPU time of those inferences spent computing and waiting
  for transfers (timing model; their sum is the modeled NPU time).

Counters only grow; a reader takes two samples and divides the differences by the time between
them. Files are rewritten atomically (temporary file, rename) at most every
:data:`FLUSH_INTERVAL` seconds and when the engine closes, when the file is removed. Files left
by a process that died are recognised by their pid and ignored (and removed) by readers.
"""
from __future__ import annotations

import collections
import contextlib
import itertools
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from furiosa.common import files, settings

log = logging.getLogger("furiosa.device")

FLUSH_INTERVAL = 0.1
_serial = itertools.count()


@dataclass
class _Counters:
    devfile: str
    inferences: int = 0
    busy_ns: int = 0
    comp_ns: int = 0
    io_ns: int = 0


class Publisher:
    """The activity of one engine's device files, published for ``furiosactl top``."""

    def __init__(self, devfiles: Sequence[str], comp_ns: int, io_ns: int) -> None:
        self._comp_ns = int(comp_ns)
        self._io_ns = int(io_ns)
        self._counters = {name: _Counters(name) for name in devfiles}
        self._pending: collections.deque[tuple[str, int]] = collections.deque()
        self._lock = threading.Lock()
        self._flushed = 0.0
        self._since = time.time()
        self._cmd = " ".join([sys.executable, *sys.argv]).strip()
        self._dir = settings.activity_dir()
        self._serial = next(_serial)
        self._enabled = True
        self._flush(force=True)

    def _path(self, devfile: str) -> Path:
        return self._dir / f"{os.getpid()}.{devfile}.{self._serial}.json"

    @contextlib.contextmanager
    def busy(self, devfile: str) -> Iterator[None]:
        """Count one inference on ``devfile`` (the time inside the block is its busy time)."""
        started = time.perf_counter_ns()
        try:
            yield
        finally:
            self.count(devfile, started)

    def count(self, devfile: str, started_ns: int) -> None:
        """Count one inference on ``devfile`` that started at ``started_ns`` (``perf_counter_ns``) and just ended.

        Inferences are only noted here (a deque append, safe from any thread); they are added to
        the counters when the counters are published, at most every :data:`FLUSH_INTERVAL`.
        """
        self._pending.append((devfile, time.perf_counter_ns() - started_ns))
        if time.monotonic() - self._flushed >= FLUSH_INTERVAL:
            self._flush()

    def _drain(self) -> None:
        """Add the noted inferences to the counters (holding the lock)."""
        while True:
            try:
                devfile, elapsed = self._pending.popleft()  # atomic, like the appends
            except IndexError:
                return
            counters = self._counters.get(devfile)
            if counters is not None:
                counters.inferences += 1
                counters.busy_ns += elapsed
                counters.comp_ns += self._comp_ns
                counters.io_ns += self._io_ns

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self._enabled or (not force and now - self._flushed < FLUSH_INTERVAL):
            return
        with self._lock:
            self._flushed = now
            self._drain()
            records = [dict(vars(c)) for c in self._counters.values()]
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            for record in records:
                record.update(pid=os.getpid(), cmd=self._cmd, since=self._since, updated=time.time())
                files.write_atomically(self._path(record["devfile"]), json.dumps(record))
        except OSError as error:  # activity is best effort: never fail an inference for it
            self._enabled = False
            log.debug("cannot publish device activity in %s: %s", self._dir, error)

    def close(self) -> None:
        """Remove the published files (the engine released its devices)."""
        self._enabled = False
        for name in self._counters:
            with contextlib.suppress(OSError):
                self._path(name).unlink()


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def snapshot() -> list[dict[str, Any]]:
    """The published activity of every live runtime (stale files of dead processes are removed)."""
    directory = settings.activity_dir()
    out = []
    try:
        paths = sorted(directory.glob("*.json"))
    except OSError:
        return []
    for path in paths:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict):
            continue
        if not _alive(record.get("pid")):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        out.append(record)
    return out
