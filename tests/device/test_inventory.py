"""Emulated cards and exclusive device files: busy within a process and across processes."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from furiosa.common.errors import DeviceBusyError, DeviceError
from furiosa.device import CoreStatusType, sync
from furiosa.device.config import parse
from furiosa.device.inventory import DeviceFile, holder, open_devices


def test_default_machine_has_one_card(device_dir, monkeypatch):
    monkeypatch.delenv("FURIOSA_EMU_NPUS", raising=False)
    devices = sync.list_devices()
    assert [d.name() for d in devices] == ["npu0"]
    assert [f.filename() for f in devices[0].dev_files()] == ["npu0pe0", "npu0pe1", "npu0pe0-1"]


def test_fused_device_takes_both_pes(device_dir):
    lease = open_devices(parse("warboy(2)*1"))
    assert lease.devices == [DeviceFile(0, (0, 1))]
    status = sync.get_device("npu0").core_status(1)
    assert status.status_type is CoreStatusType.Occupied and status.value == "npu0pe0-1"
    with pytest.raises(DeviceBusyError, match="npu0pe1 is held by this process"):
        open_devices(parse("npu:0:1"))
    lease.release()
    assert sync.get_device("npu0").core_status(1).status_type is CoreStatusType.Available
    open_devices(parse("npu:0:1")).release()


def test_single_pes_are_independent(device_dir):
    first = open_devices(parse("warboy(1)*1"))
    second = open_devices(parse("warboy(1)*1"))
    assert {d.name for d in first.devices + second.devices} == {"npu0pe0", "npu0pe1"}
    with pytest.raises(DeviceBusyError):
        open_devices(parse("warboy(1)*1"))
    first.release()
    second.release()


def test_more_cards(device_dir, monkeypatch):
    monkeypatch.setenv("FURIOSA_EMU_NPUS", "3")
    leases = [open_devices(parse("warboy(2)*1")) for _ in range(3)]
    assert sorted(l.devices[0].card for l in leases) == [0, 1, 2]
    with pytest.raises(DeviceBusyError):
        open_devices(parse("warboy(2)*1"))
    for lease in leases:
        lease.release()
    lease = open_devices(parse("npu:1:0-1,npu:2:0"))
    assert [d.name for d in lease.devices] == ["npu1pe0-1", "npu2pe0"]
    lease.release()


@pytest.mark.parametrize("text, message", [
    ("npu:3:0", "this machine has 1 emulated Warboy"), ("npu:0:0-2", "PEs 0 and 1"),
    ("warboy(3)*1", "1 PE or 2 fused PEs"), ("warboy(2)*0", "selects no device"),
    ("warboy(2)*2", "needs 2 device"), ("npu:0:0,npu:0:0-1", "more than once"),
])
def test_semantic_errors(device_dir, monkeypatch, text, message):
    monkeypatch.delenv("FURIOSA_EMU_NPUS", raising=False)
    with pytest.raises(DeviceError, match=message):
        open_devices(parse(text))
    open_devices(parse("warboy(2)*1")).release()  # nothing stays locked after a failure


def test_busy_across_processes(device_dir):
    script = textwrap.dedent("""
        import sys, time
        from furiosa.device.config import parse
        from furiosa.device.inventory import open_devices
        lease = open_devices(parse("npu:0:0-1"))
        print("held", flush=True)
        sys.stdin.readline()
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env={**__import__("os").environ, "FURIOSA_EMU_STATE_DIR": str(device_dir)})
    try:
        assert child.stdout.readline().strip() == "held"
        info = holder(0, 0)
        assert info["pid"] == child.pid and info["devfile"] == "npu0pe0-1"
        with pytest.raises(DeviceBusyError, match=f"process {child.pid}"):
            open_devices(parse("npu:0:0"))
    finally:
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(timeout=30)
    assert holder(0, 0) is None
    open_devices(parse("npu:0:0")).release()


def test_a_killed_holder_frees_its_devices(device_dir):
    child = subprocess.Popen(
        [sys.executable, "-c", "from furiosa.device.config import parse\nfrom furiosa.device.inventory import "
         "open_devices\nlease = open_devices(parse('warboy*1'))\nprint('held', flush=True)\nimport time\n"
         "time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env={**__import__("os").environ, "FURIOSA_EMU_STATE_DIR": str(device_dir)})
    assert child.stdout.readline().strip() == "held"
    child.kill()
    child.wait(timeout=30)
    open_devices(parse("warboy(1)*2")).release()
