"""Test-suite wide setup.

Every test session gets its own emulated-device state directory, so device locks never clash
with a user's runners or with another test session, and the repository root is importable
(``examples.zoo`` builds the models the tests use).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
VENDOR = SHARED / "data" / "vendor"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("FURIOSA_EMU_STATE_DIR", tempfile.mkdtemp(prefix="furiosa-emu-tests-"))
# The compiler cache of a test session is its own: nothing is read from or written to the user's.
os.environ["FC_CACHE_STORE_URL"] = tempfile.mkdtemp(prefix="furiosa-cache-tests-")
os.environ["FURIOSA_TEST_IS_RUNNING"] = "1"
os.environ.pop("FURIOSA_DEVICES", None)
os.environ.pop("NPU_DEVNAME", None)


@pytest.fixture
def vendor() -> Path:
    """The vendor's models and files (skipped where ../shared is absent, as on a user's clone)."""
    if not VENDOR.is_dir():
        pytest.skip("../shared/data/vendor is not available")
    return VENDOR


@pytest.fixture
def device_dir(tmp_path, monkeypatch) -> Path:
    """A private device state directory (devices free, no other test holds them)."""
    monkeypatch.setenv("FURIOSA_EMU_STATE_DIR", str(tmp_path / "devices"))
    return tmp_path / "devices"
