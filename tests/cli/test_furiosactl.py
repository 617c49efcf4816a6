"""furiosactl: info, list, ps and top on the emulated cards."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULE = re.compile(r"^\+(-+\+)+$")


def _table(text: str) -> list[list[str]]:
    """Rows of a +---+ table, checking the borders: a rule after the header and after every row."""
    lines = text.strip().splitlines()
    assert all(RULE.match(line) for line in lines[0::2]), text
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1::2]]
    assert len({len(line) for line in lines}) == 1, text
    return rows


def test_info(cli, env):
    result = cli("furiosactl", "info", extra_env={"FURIOSA_EMU_NPUS": "2"})
    assert result.returncode == 0
    rows = _table(result.stdout)
    assert rows[0] == ["NPU", "Name", "Firmware", "Temp.", "Power", "PCI-BDF"]
    assert [r[0] for r in rows[1:]] == ["npu0", "npu1"]
    for row in rows[1:]:
        assert row[1] == "warboy" and re.fullmatch(r"\d+°C", row[3]) and re.fullmatch(r"\d+\.\d\d W", row[4])
        assert re.fullmatch(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.\d", row[5])
    full = _table(cli("furiosactl", "info", "--full").stdout)
    assert full[0] == ["NPU", "Name", "UUID", "S/N", "Firmware", "Temp.", "Power", "PCI-BDF", "PCI-DEV"]
    keys = ["dev_name", "product_name", "device_uuid", "device_sn", "firmware", "temperature", "power", "pci_bdf",
            "pci_dev"]
    as_json = json.loads(cli("furiosactl", "info", "--format", "json").stdout)
    assert [list(r) for r in as_json] == [keys] and all(isinstance(v, str) for v in as_json[0].values())
    assert yaml.safe_load(cli("furiosactl", "info", "--format", "yaml").stdout) == as_json
    bad = cli("furiosactl", "info", "--format", "xml")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_list_and_help(cli):
    rows = _table(cli("furiosactl", "list").stdout)
    assert rows == [["NPU", "Cores", "DEVFILES"],
                    ["npu0", "0 (available), 1 (available)", "npu0, npu0pe0, npu0pe1, npu0pe0-1"]]
    assert "Usage: furiosactl <sub command> [option] .." in cli("furiosactl", "--help").stdout
    assert cli("furiosactl", "bogus").returncode == 2


HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
import numpy as np
from furiosa.runtime import sync
with sync.create_runner({model!r}, device="npu0pe0-1") as runner:
    print("ready", flush=True)
    x = [np.random.rand(*d.shape).astype(d.dtype.numpy) for d in runner.model.inputs()]
    end = time.time() + {seconds}
    while time.time() < end:
        runner.run(x)
"""


@pytest.fixture
def busy_runtime(env, qdq_model):
    script = HOLDER.format(root=str(ROOT), model=str(qdq_model), seconds=20)
    proc = subprocess.Popen([sys.executable, "-c", script, "marker-arg"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    yield proc
    proc.kill()
    proc.wait()


def test_ps_list_and_top_see_a_running_runtime(cli, busy_runtime):
    rows = _table(cli("furiosactl", "ps").stdout)
    assert rows[0] == ["NPU", "PID", "CMD"]
    assert ["npu0pe0-1", str(busy_runtime.pid)] == rows[1][:2] and "marker-arg" in rows[1][2]
    listed = _table(cli("furiosactl", "list").stdout)
    assert listed[1][1] == "0 (occupied by npu0pe0-1), 1 (occupied by npu0pe0-1)"
    top = cli("furiosactl", "top", "--interval", "500", "--count", "2")
    assert top.returncode == 0, top.stderr
    lines = top.stdout.splitlines()
    assert lines[0] == "NOTE: furiosa top is under development. Usage and output formats may change."
    assert lines[1] == "Please enter Ctrl+C to stop."
    assert lines[2].split() == ["Datetime", "PID", "Device", "NPU(%)", "Comp(%)", "I/O(%)", "Command"]
    samples = [line for line in lines[3:] if f" {busy_runtime.pid} " in f" {line} "]
    assert samples, top.stdout
    fields = samples[-1].split()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", fields[0])
    assert fields[2] == "npu0pe0-1"
    npu, comp, io = map(float, fields[3:6])
    assert 0 < npu <= 100 and abs(comp + io - 100) < 0.02
    assert "marker-arg" in samples[-1]
    info = _table(cli("furiosactl", "info").stdout)
    assert float(info[1][4].split()[0]) > 1.0  # modeled power rises with utilisation


def test_top_forgets_dead_processes(cli, env, tmp_path):
    directory = Path(env["FURIOSA_EMU_STATE_DIR"]) / "activity"
    directory.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = directory / f"{dead.stdout.strip()}.npu0pe0.0.json"
    stale.write_text(json.dumps({"pid": int(dead.stdout), "devfile": "npu0pe0", "busy_ns": 1, "cmd": "gone"}))
    top = cli("furiosactl", "top", "--interval", "50", "--count", "1")
    assert top.returncode == 0 and "gone" not in top.stdout
    assert not stale.exists()
