"""furiosa.device: the NPU devices of this machine, emulated.

Mirrors the vendor's device API (``Arch``, ``DeviceMode``, ``DeviceConfig``, ``Device``,
``list_devices``, ``find_devices``, ``get_device``; blocking variants in
:mod:`furiosa.device.sync`) over the emulated cards of :mod:`.inventory`. The device-string
grammar is in :mod:`.config`.
"""
from __future__ import annotations

import enum
import hashlib
import os
from typing import Union

from furiosa.common.errors import DeviceError, InvalidDeviceConfigError
from furiosa.common.version import emulator_version, sdk_version

from . import inventory
from .config import DeviceSpec, Explicit, Implicit, parse

__version__ = sdk_version()

__all__ = [
    "Arch", "CoreRange", "CoreRangeType", "CoreStatus", "CoreStatusType", "Device", "DeviceConfig",
    "DeviceError", "DeviceFile", "DeviceMode", "find_devices", "get_device", "list_devices",
]


class Arch(enum.Enum):
    Warboy = "warboy"
    WarboyB0 = "warboy-b0"


class DeviceMode(enum.Enum):
    Single = "single"
    Fusion = "fusion"
    MultiCore = "multicore"


class CoreStatusType(enum.Enum):
    Available = "available"
    Occupied = "occupied"
    Unavailable = "unavailable"


class CoreStatus:
    """The state of one PE: available, occupied by a device file, or unavailable."""

    def __init__(self, status_type: CoreStatusType, value: Union[None, str] = None) -> None:
        self.status_type = status_type
        self.value = value

    def __repr__(self) -> str:
        if self.status_type is CoreStatusType.Occupied:
            return f"occupied by {self.value}"
        return self.status_type.value

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CoreStatus) and (self.status_type, self.value) == (other.status_type, other.value)


class CoreRangeType(enum.Enum):
    All = "all"
    Range = "range"


class CoreRange:
    def __init__(self, range_type: CoreRangeType, value: Union[None, tuple[int, int]] = None) -> None:
        self.range_type = range_type
        self.value = value

    def contains(self, core: int) -> bool:
        if self.range_type is CoreRangeType.All:
            return True
        return self.value[0] <= core <= self.value[1]

    def __repr__(self) -> str:
        if self.range_type is CoreRangeType.All:
            return "All"
        first, last = self.value
        return f"{first}" if first == last else f"{first}-{last}"


class DeviceConfig:
    """A device specification: ``DeviceConfig(arch, mode, count)`` or ``DeviceConfig.from_str(text)``."""

    def __init__(self, _arch: Arch = Arch.Warboy, mode: DeviceMode = DeviceMode.Fusion, count: int = 1) -> None:
        pes = 2 if mode is DeviceMode.Fusion else 1
        self.spec: DeviceSpec = parse(f"warboy({pes})*{count}")

    @classmethod
    def from_str(cls, key: str) -> "DeviceConfig":
        config = cls.__new__(cls)
        config.spec = parse(key)
        return config

    @classmethod
    def from_env(cls, key: str) -> "DeviceConfig":
        value = os.environ.get(key)
        if value is None:
            raise InvalidDeviceConfigError(f"environment variable {key} is not set")
        return cls.from_str(value)

    def __str__(self) -> str:
        return self.spec.text

    def __repr__(self) -> str:
        return f"DeviceConfig({self.spec.text!r})"


class DeviceFile:
    """A device file: one PE (``npu0pe1``) or the fused pair (``npu0pe0-1``) of a card."""

    def __init__(self, inner: inventory.DeviceFile) -> None:
        self._inner = inner

    def path(self) -> str:
        return f"/dev/{self._inner.name}"

    def filename(self) -> str:
        return self._inner.name

    def core_range(self) -> CoreRange:
        cores = self._inner.cores
        return CoreRange(CoreRangeType.Range, (cores[0], cores[-1]))

    def mode(self) -> DeviceMode:
        return DeviceMode.Fusion if self._inner.fused else DeviceMode.Single

    def __repr__(self) -> str:
        return self._inner.name


class Device:
    """One emulated Warboy card."""

    def __init__(self, index: int) -> None:
        self._index = index

    def name(self) -> str:
        return f"npu{self._index}"

    def device_index(self) -> int:
        return self._index

    def arch(self) -> Arch:
        return Arch.WarboyB0

    def alive(self) -> bool:
        return True

    def busname(self) -> str:
        return f"0000:{0x51 + self._index:02x}:00.0"

    def pci_dev(self) -> str:
        return f"{511 - self._index}:0"

    def device_sn(self) -> str:
        return f"WBYB{self._index:010d}"

    def device_uuid(self) -> str:
        digest = hashlib.sha256(f"furiosa-emulated-warboy-{self._index}".encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    def firmware_version(self) -> str:
        return f"emulated {emulator_version()}"

    def driver_version(self) -> str:
        return f"emulated {emulator_version()}"

    def heartbeat(self) -> int:
        return 0

    def core_num(self) -> int:
        return inventory.PES_PER_CARD

    def cores(self) -> list[int]:
        return list(range(inventory.PES_PER_CARD))

    def dev_files(self) -> list[DeviceFile]:
        return [DeviceFile(f) for f in inventory.all_device_files(self._index)]

    def core_status(self, core: int) -> CoreStatus:
        if core not in self.cores():
            return CoreStatus(CoreStatusType.Unavailable)
        holder = inventory.holder(self._index, core)
        if holder is None:
            return CoreStatus(CoreStatusType.Available)
        return CoreStatus(CoreStatusType.Occupied, holder.get("devfile") or self.name())

    async def get_status_core(self, core: int) -> CoreStatus:
        return self.core_status(core)

    async def get_status_all(self) -> dict[int, CoreStatus]:
        return {core: self.core_status(core) for core in self.cores()}

    def __repr__(self) -> str:
        return f"Device({self.name()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other._index == self._index

    def __hash__(self) -> int:
        return hash(self._index)


def devices() -> list[Device]:
    """The emulated cards of this machine (blocking)."""
    return [Device(i) for i in range(inventory.card_count())]


def find(config: DeviceConfig) -> list[Device]:
    """Cards that a configuration could use (blocking); existence only, not availability."""
    found: list[Device] = []
    count = inventory.card_count()
    for element in config.spec.elements:
        if isinstance(element, Explicit):
            if element.device < count and Device(element.device) not in found:
                found.append(Device(element.device))
        elif isinstance(element, Implicit):
            for i in range(count):
                if Device(i) not in found:
                    found.append(Device(i))
    return found


def lookup(device_name: str) -> Device:
    for device in devices():
        if device.name() == device_name:
            return device
    raise DeviceError(f"Fail to find device: {device_name} (known: {', '.join(d.name() for d in devices())})")


async def list_devices() -> list[Device]:
    return devices()


async def find_devices(config: DeviceConfig) -> list[Device]:
    return find(config)


async def get_device(device_name: str) -> Device:
    return lookup(device_name)
