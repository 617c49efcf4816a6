"""Writing files so that readers never see them half-written."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, at import: setting the umask to read it is not safe while other threads create files.
_UMASK = _read_umask()


def write_atomically(path: "str | Path", data: bytes | str, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename it.

    The temporary file is ``.<name>.<pid>.<random>.part`` and is removed if anything fails; the
    file is readable by everyone and writable by its owner (0644, less the umask). ``durable`` syncs the data to disk
    before the rename (for outputs that must survive a crash, not for status files rewritten often).
    """
    target = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".part",
                                     dir=target.resolve().parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temporary, 0o644 & ~_UMASK)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
