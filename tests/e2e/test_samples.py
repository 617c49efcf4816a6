"""The vendor documentation's samples run unchanged (issue 7): ../shared/samples/run_samples.py.

Skipped on a clone without ../shared (a user's machine); CI has it and installs what the samples
import (torch 2.13.0 CPU, onnxscript, tqdm: the test extra).
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import SHARED

RUNNER = SHARED / "samples" / "run_samples.py"


@pytest.mark.skipif(not RUNNER.exists(), reason="../shared/samples is not available")
def test_documentation_samples(tmp_path):
    env = dict(os.environ, FURIOSA_EMU_STATE_DIR=str(tmp_path / "devices"))
    done = subprocess.run([sys.executable, str(RUNNER)], capture_output=True, text=True, timeout=1800, env=env)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    assert lines[-1] == "12 passed, 0 failed", "\n".join(lines)
