"""The device-string grammar, with the accept / reject lists observed on the vendor's runtime."""
from __future__ import annotations

import pytest

from furiosa.common.errors import InvalidDeviceConfigError
from furiosa.device import DeviceConfig, DeviceMode
from furiosa.device.config import Explicit, Implicit, parse

ACCEPTED = [
    "warboy(2)*1", "warboy*1", "warboy(1)*2", "warboy(3)*1", "warboy(0)*1", "warboy(2)*0", "warboy(2)*255",
    "npu0pe0", "npu0pe0-1", "npu0pe2", "npu10pe1", "npu0", "npu:0", "npu:0:0", "npu:0:0-1", "npu:0:0-2",
    "npu0pe0,npu0pe1", "npu:1:0-1,npu:2:0-1", "warboy*1,npu:1:0", "npu:0:0,npu:0:0",
]
REJECTED = [
    "", "foo", "warboy", "warboy(2)", "warboy()*1", "warboy(2)*-1", "warboy*256", "WARBOY*1", "renegade*1",
    " warboy*1", "warboy(2)*1 ", "npu:0:*", "npu:a:0", "npu:0:", "npu:0:1-0", "npu:0:1-1", "npu:0:0-1-",
    "npu0pe1-0", "npu0pe", "npu256pe0", "npu0pe0,", "0", "0:0",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted(text):
    assert parse(text).text == text


@pytest.mark.parametrize("text", REJECTED)
def test_rejected(text):
    with pytest.raises(InvalidDeviceConfigError) as info:
        parse(text)
    assert str(info.value) == f"invalid device configuration: {text}"


def test_elements():
    assert parse("warboy*1").elements == (Implicit(1, 1),)
    assert parse("warboy(2)*3").elements == (Implicit(2, 3),)
    assert parse("npu0pe0-1,npu:1:1").elements == (Explicit(0, 0, 1), Explicit(1, 1))
    assert parse("npu:2").elements[0].cores is None


def test_vendor_device_config_api():
    assert str(DeviceConfig()) == "warboy(2)*1"
    assert str(DeviceConfig(mode=DeviceMode.Single, count=2)) == "warboy(1)*2"
    assert str(DeviceConfig.from_str("npu:0:1")) == "npu:0:1"
    with pytest.raises(InvalidDeviceConfigError):
        DeviceConfig.from_str("npu:0:")
