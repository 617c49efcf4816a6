"""Version objects in the vendor's format (``FuriosaVersionInfo``).

The SDK implements the vendor's 0.10 API; ``API_VERSION`` is that API level. The emulator has
a version of its own (the distribution's), reported wherever the vendor reports the native
runtime or compiler.
"""
from __future__ import annotations

import datetime
import functools
from importlib import metadata
from pathlib import Path

API_VERSION = "0.10.2"
DISTRIBUTION = "furiosa-sdk-emulator"


class FuriosaVersionInfo:
    """``version`` (e.g. "0.10.2"), ``stage`` ("dev" or "release") and ``hash``."""

    def __init__(self, version: tuple[str, str, str] | str) -> None:
        if isinstance(version, str):
            base, _, local = version.partition("+")
            stage = "dev" if ".dev" in base else "release"
            githash = local[1:] if local.startswith("g") else (local or git_hash())
            version = (base.split(".dev")[0], stage, githash)
        self.version, self.stage, self.hash = version

    def __str__(self) -> str:
        return f"{self.version}-{self.stage} (rev: {self.hash[0:9]})"

    def __repr__(self) -> str:
        return f"FuriosaVersionInfo(({self.stage}, {self.version}, {self.hash}))"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FuriosaVersionInfo):
            return NotImplemented
        return (self.version, self.stage, self.hash) == (other.version, other.stage, other.hash)

    def __hash__(self) -> int:
        return hash((self.version, self.stage, self.hash))


@functools.lru_cache(maxsize=1)
def git_hash() -> str:
    """The commit the package was installed from, read from ``.git`` without a subprocess."""
    root = Path(__file__).resolve().parents[2] / ".git"
    try:
        head = (root / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            ref_file = root / ref
            if ref_file.exists():
                return ref_file.read_text().strip()
            packed = (root / "packed-refs").read_text().splitlines()
            for line in packed:
                if line.endswith(" " + ref):
                    return line.split()[0]
            return "0" * 40
        return head
    except OSError:
        return "0" * 40


@functools.lru_cache(maxsize=1)
def emulator_version() -> str:
    """The emulator distribution's own version."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0.0.0"


@functools.lru_cache(maxsize=1)
def build_timestamp() -> str:
    """When this copy of the package was installed or last changed (UTC, RFC 3339)."""
    stamp = Path(__file__).stat().st_mtime
    moment = datetime.datetime.fromtimestamp(stamp, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sdk_version() -> FuriosaVersionInfo:
    """The version object every ``furiosa.<package>.__version__`` reports."""
    return FuriosaVersionInfo((API_VERSION, "release", git_hash()))


def compiler_version_string() -> str:
    """What ``furiosa-compiler --version`` prints and what ENF files record."""
    return f"{emulator_version()} (rev: {git_hash()[:9]} built at: {build_timestamp()})"
