"""furiosa.quantizer: calibration and quantization (spec/toolchain-api.md §3).

* :class:`Calibrator` / :class:`CalibrationMethod` (:mod:`.calibrator`): ranges of every float
  tensor from calibration samples;
* :func:`quantize`: the float model plus the ranges in its metadata, as bytes (0.10 contract);
* :class:`ModelEditor`, :class:`TensorType`, :func:`get_pure_input_names`,
  :func:`get_output_names` (:mod:`.editor`): uint8 inputs and int8 / uint8 outputs.

The int8 scheme (:mod:`.qparams`) and the vendor's metadata format (:mod:`.metadata`) are shared
with the compiler.

Beyond the vendor: :func:`accuracy_report` and :func:`sweep` (:mod:`.report`, docs/reports.md)
compile and run models on the emulated NPU, so they are imported on first use (the compiler
imports this package).
"""
from __future__ import annotations


from furiosa.common.version import build_timestamp, emulator_version, git_hash, sdk_version

from .calibrator import CalibrationMethod, Calibrator
from .editor import ModelEditor, TensorType, get_output_names, get_pure_input_names
from .quantize import quantize

__version__ = sdk_version()
__full_version__ = (
    f"Furiosa SDK Quantizer {__version__} "
    f"(furiosa_quantizer_impl {emulator_version()} {git_hash()[:9]} {build_timestamp()})"
)

__all__ = ["CalibrationMethod", "Calibrator", "get_pure_input_names", "get_output_names",
           "ModelEditor", "TensorType", "quantize"]

_REPORTS = ("accuracy_report", "sweep")


def __getattr__(name: str):
    """``accuracy_report`` and ``sweep``, from :mod:`.report` on first use."""
    if name in _REPORTS:
        from . import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

