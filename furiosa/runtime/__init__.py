"""furiosa.runtime: run models on (emulated) FuriosaAI Warboy NPUs.

The package offers the vendor's three generations of API (spec/runtime-api.md §1):

* ``furiosa.runtime`` itself: asyncio runners and queues (``create_runner``, ``create_queue``,
  ``Runtime``);
* :mod:`furiosa.runtime.sync`: the same, blocking;
* :mod:`furiosa.runtime.session`: the legacy ``create`` / ``create_async`` sessions.

Submodules are bound as attributes, so ``from furiosa.runtime import session`` works without a
warning, while the deprecated dotted imports (``import furiosa.runtime.session``) warn, as the
vendor's do.
"""
from __future__ import annotations

from furiosa.common.version import build_timestamp, emulator_version, git_hash, sdk_version

from . import _compiler, _envs, _errors, _legacy, _tensor, _types, _utils, consts, sync
from ._aio import ContextfulFuture, Runner, Runtime, create_queue, create_runner
from ._aliases import ModelSource, Tensor, TensorArray
from ._errors import FuriosaRuntimeError, FuriosaRuntimeWarning
from ._queue import AsyncReceiver as Receiver
from ._queue import AsyncSubmitter as Submitter
from ._types import Axis, DataType, Model, TensorDesc

__version__ = sdk_version()
__full_version__ = (
    f"Furiosa SDK Runtime {__version__} "
    f"(furiosa-emu {emulator_version()} {git_hash()[:9]} {build_timestamp()})"
)
is_legacy = False

__all__ = ["__version__", "__full_version__", "is_legacy"]

# Submodules as attributes: importing them this way never warns.
session = _legacy
tensor = _tensor
errors = _errors
envs = _envs
model = _types
compiler = _compiler


def full_version() -> str:
    """The full version string (``__full_version__``)."""
    return __full_version__


def __getattr__(name: str):
    if name in ("profiler", "bench"):
        import importlib

        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'furiosa.runtime' has no attribute {name!r}")
