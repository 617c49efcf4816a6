"""Blocking variants of the device API."""
from __future__ import annotations

from . import Device, DeviceConfig, devices, find, lookup


def list_devices() -> list[Device]:
    return devices()


def find_devices(config: DeviceConfig) -> list[Device]:
    return find(config)


def get_device(device_name: str) -> Device:
    return lookup(device_name)
