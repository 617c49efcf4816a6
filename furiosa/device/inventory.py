"""The emulated cards of this machine and exclusive access to their PEs.

A machine has ``FURIOSA_EMU_NPUS`` emulated Warboy cards (default one), ``npu0``, ``npu1``...,
each with PEs 0 and 1. A runtime opens a *device file*: one PE (``npu0pe1``) or the fused pair
(``npu0pe0-1``). Opening takes an exclusive ``flock`` on one lock file per PE in the state
directory (:func:`furiosa.common.settings.state_dir`), so a PE held by any process of the user
is busy for every other runtime, as on hardware; the lock file records who holds it, which is
what ``furiosactl ps`` shows. Locks go away with the process that holds them.
"""
from __future__ import annotations

import errno
import fcntl
import functools
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from furiosa.common import settings
from furiosa.common.errors import DeviceBusyError, DeviceError

from .config import DeviceSpec, Explicit, Implicit

PES_PER_CARD = 2
_process_lock = threading.Lock()


@dataclass(frozen=True)
class DeviceFile:
    """One openable unit: a single PE or the fused pair of one card."""

    card: int
    cores: tuple[int, ...]

    @functools.cached_property
    def name(self) -> str:
        if len(self.cores) == PES_PER_CARD:
            return f"npu{self.card}pe0-1"
        return f"npu{self.card}pe{self.cores[0]}"

    @property
    def fused(self) -> bool:
        return len(self.cores) > 1

    @property
    def target(self) -> str:
        """The compiler target matching this device file."""
        return "warboy-2pe" if self.fused else "warboy"

    @property
    def address(self) -> str:
        """The ``npu:X:Y[-Z]`` form used in logs."""
        cores = f"{self.cores[0]}-{self.cores[-1]}" if self.fused else f"{self.cores[0]}"
        return f"npu:{self.card}:{cores}"


def card_count() -> int:
    return settings.emulated_npu_count()


def all_device_files(card: int) -> list[DeviceFile]:
    return [DeviceFile(card, (0,)), DeviceFile(card, (1,)), DeviceFile(card, (0, 1))]


def lock_path(card: int, core: int) -> Path:
    return settings.state_dir() / f"npu{card}pe{core}.lock"


def _open_lock(card: int, core: int) -> int:
    path = lock_path(card, core)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        raise DeviceError(f"Fail to open NPU device: cannot create the lock file {path}: {error.strerror}") from None


def _try_lock(card: int, core: int) -> int | None:
    fd = _open_lock(card, core)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(fd)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise DeviceError(f"Fail to open NPU device: cannot lock npu{card}pe{core}: {error.strerror}") from None
    return fd


def holder(card: int, core: int) -> dict | None:
    """Who holds a PE (pid, command, device file, since), or None when it is free."""
    path = lock_path(card, core)
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            data = os.pread(fd, 4096, 0)
            try:
                return json.loads(data.decode() or "{}") or {"pid": None}
            except (UnicodeDecodeError, json.JSONDecodeError):
                return {"pid": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@dataclass
class Lease:
    """Device files held by one runtime; released by :meth:`release` or at process exit."""

    devices: list[DeviceFile]
    _fds: list[int] = field(default_factory=list, repr=False)

    def release(self) -> None:
        with _process_lock:
            fds, self._fds = self._fds, []
        for fd in fds:
            try:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    @property
    def held(self) -> bool:
        return bool(self._fds)

    def __del__(self) -> None:  # a forgotten lease must not keep devices busy
        try:
            self.release()
        except Exception:
            pass


def _record(fd: int, device: DeviceFile) -> None:
    info = {"pid": os.getpid(), "cmd": " ".join([sys.executable, *sys.argv]).strip(),
            "devfile": device.name, "since": time.time()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)


def _take(device: DeviceFile) -> list[int] | None:
    fds = []
    for core in device.cores:
        fd = _try_lock(device.card, core)
        if fd is None:
            for taken in fds:
                fcntl.flock(taken, fcntl.LOCK_UN)
                os.close(taken)
            return None
        fds.append(fd)
    for fd in fds:
        _record(fd, device)
    return fds


def _explicit(element: Explicit, cards: int) -> DeviceFile:
    if element.device >= cards:
        raise DeviceError(
            f"Fail to find device: {element}: this machine has {cards} emulated Warboy card(s) "
            "(set FURIOSA_EMU_NPUS for more)"
        )
    cores = element.cores or (0, 1)
    if max(cores) >= PES_PER_CARD:
        raise DeviceError(f"Fail to find device: {element}: a Warboy has PEs 0 and 1")
    return DeviceFile(element.device, cores)


def open_devices(spec: DeviceSpec) -> Lease:
    """Take the device files ``spec`` names, exclusively; raise if any is missing or busy."""
    cards = card_count()
    lease = Lease([])
    taken: set[tuple[int, int]] = set()
    try:
        for element in spec.elements:
            if isinstance(element, Explicit):
                device = _explicit(element, cards)
                overlap = {(device.card, c) for c in device.cores} & taken
                if overlap:
                    pes = ", ".join(f"npu{card}pe{core}" for card, core in sorted(overlap))
                    raise DeviceError(f"Fail to open NPU device: {spec.text} uses {pes} more than once")
                fds = _take(device)
                if fds is None:
                    raise DeviceBusyError(f"All NPU device is busy: {device.name} {_held_by(device)}")
                lease.devices.append(device)
                lease._fds.extend(fds)
                taken.update((device.card, c) for c in device.cores)
                continue
            _implicit(element, cards, lease, taken, spec)
    except BaseException:
        lease.release()
        raise
    return lease


def _implicit(element: Implicit, cards: int, lease: Lease, taken: set[tuple[int, int]], spec: DeviceSpec) -> None:
    if element.pes not in (1, 2):
        raise DeviceError(f"Fail to find device: {element}: a Warboy device has 1 PE or 2 fused PEs")
    if element.count == 0:
        raise DeviceError(f"No available device: {spec.text} selects no device")
    candidates = [
        DeviceFile(card, cores)
        for card in range(cards)
        for cores in (((0,), (1,)) if element.pes == 1 else ((0, 1),))
    ]
    if len(candidates) < element.count:
        raise DeviceError(
            f"No available device: {spec.text} needs {element.count} device(s) of {element.pes} PE(s); this machine "
            f"has {cards} emulated Warboy card(s) (set FURIOSA_EMU_NPUS for more)"
        )
    found = 0
    for device in candidates:
        if found == element.count:
            break
        if {(device.card, c) for c in device.cores} & taken:
            continue
        fds = _take(device)
        if fds is None:
            continue
        lease.devices.append(device)
        lease._fds.extend(fds)
        taken.update((device.card, c) for c in device.cores)
        found += 1
    if found < element.count:
        busy = [f"{d.name} {_held_by(d)}" for d in candidates if d not in lease.devices][:3]
        raise DeviceBusyError(
            f"All NPU device is busy: {spec.text} needs {element.count} free device(s), found {found}; "
            + "; ".join(busy)
        )


def _held_by(device: DeviceFile) -> str:
    """Who holds a device file, for messages."""
    for core in device.cores:
        info = holder(device.card, core)
        if info is not None:
            pid = info.get("pid")
            owner = "this process" if pid == os.getpid() else f"process {pid}"
            return f"is held by {owner} (as {info.get('devfile', '?')})"
    return "is held by another runtime"
