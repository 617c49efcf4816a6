"""``default_device()``: the device spec the runtime uses when none is given."""
from __future__ import annotations

from furiosa.common import settings


def default_device() -> str:
    return settings.default_device_spec()[0]
