"""``CalibrationMethod`` and ``Calibrator`` (spec/toolchain-api.md §3.2–3.4).

A :class:`Calibrator` runs the float model over calibration samples in onnxruntime
(:mod:`.collector`), keeps bounded streaming statistics of every non-initializer float tensor
(:mod:`.observers`) and turns them into ranges with the method's objective (:mod:`.methods`).
``collect_data`` may be called any number of times; memory does not grow with the samples.
"""
from __future__ import annotations

import enum
import logging
import math
from typing import Any, Dict, Iterable, List, Sequence, Tuple, Union

import numpy as np
import onnx

from . import _model
from .collector import Collector, check_value_infos, float_tensors
from .methods import OBJECTIVES, MethodSpec
from .observers import OBSERVERS

log = logging.getLogger("furiosa.quantizer")

_MEMBERS = {
    "MIN_MAX_ASYM": (0, MethodSpec("min_max", "min_max", False), "min-max, asymmetric"),
    "MIN_MAX_SYM": (1, MethodSpec("min_max", "min_max", True), "min-max, symmetric"),
    "ENTROPY_ASYM": (2, MethodSpec("histogram", "entropy", False), "entropy (KL divergence), asymmetric"),
    "ENTROPY_SYM": (3, MethodSpec("histogram", "entropy", True), "entropy (KL divergence), symmetric"),
    "PERCENTILE_ASYM": (4, MethodSpec("histogram", "percentile", False), "percentile, asymmetric"),
    "PERCENTILE_SYM": (5, MethodSpec("histogram", "percentile", True), "percentile, symmetric"),
    "MSE_ASYM": (6, MethodSpec("histogram", "mse", False), "mean squared error, asymmetric"),
    "MSE_SYM": (7, MethodSpec("histogram", "mse", True), "mean squared error, symmetric"),
    "SQNR_ASYM": (8, MethodSpec("histogram", "sqnr", False), "signal-to-quantization-noise ratio, asymmetric"),
    "SQNR_SYM": (9, MethodSpec("histogram", "sqnr", True), "signal-to-quantization-noise ratio, symmetric"),
}

# Built like the vendor's: members in alphabetical order (iteration starts with ENTROPY_ASYM).
CalibrationMethod = enum.IntEnum(  # type: ignore[misc]
    "CalibrationMethod",
    [(name, _MEMBERS[name][0]) for name in sorted(_MEMBERS)],
    module=__name__,
    qualname="CalibrationMethod",
)
CalibrationMethod.__doc__ = "Calibration method.\n\nAttributes:\n" + "".join(
    f"    {name}: {_MEMBERS[name][2]}.\n" for name in sorted(_MEMBERS, key=lambda n: _MEMBERS[n][0])
)


def method_spec(method: Any) -> MethodSpec:
    """The statistic and objective of a ``CalibrationMethod`` (or its int value)."""
    try:
        member = CalibrationMethod(method)
    except ValueError:
        raise ValueError(f"invalid calibration method: {method}") from None
    return _MEMBERS[member.name][1]


class Calibrator:
    """Collects activation statistics of a float model and computes calibration ranges.

    ``model`` is an optimized ``onnx.ModelProto`` (or its bytes): every node output needs a
    ``value_info`` (``furiosa.optimizer.optimize_model`` writes them). ``percentage`` (0 to
    100, keyword-only) is the share of values kept by the PERCENTILE methods.
    """

    def __init__(self, model: Union[onnx.ModelProto, bytes], calibration_method: "CalibrationMethod", *,
                 percentage: float = 99.99) -> None:
        proto = _model.load(model)  # read only: statistics are all the calibrator keeps
        if isinstance(calibration_method, bool) or not isinstance(calibration_method, (int, np.integer)):
            raise TypeError(f"calibration_method must be a CalibrationMethod, got {type(calibration_method).__name__}")
        self._spec = method_spec(int(calibration_method))
        self.calibration_method = CalibrationMethod(int(calibration_method))
        if isinstance(percentage, bool) or not isinstance(percentage, (int, float, np.floating, np.integer)):
            raise TypeError(f"`percentage` must be a number, got {type(percentage).__name__}")
        if not (0 <= float(percentage) <= 100) or math.isnan(float(percentage)):
            raise ValueError(f"`percentage` was not between 0 and 100: {percentage}")
        self.percentage = float(percentage)
        check_value_infos(proto)
        self._tensors = float_tensors(proto)
        self._observers: dict[str, Any] = {}
        self._collector = Collector(proto, self._tensors, extremes_only=self._spec.statistic == "min_max")
        self._samples = 0

    # --- collecting -----------------------------------------------------------------------------
    def _consume(self, name: str, data: Any) -> None:
        observer = self._observers.get(name)
        if observer is None:
            observer = self._observers[name] = OBSERVERS.lookup(self._spec.statistic)()
        if isinstance(data, tuple):
            observer.update_extremes(*data)
        else:
            observer.update(data)

    def collect_data(self, calibration_dataset: Iterable[Sequence[np.ndarray]]) -> None:
        """Run the model on each sample (a sequence of one array per input) and update the statistics."""
        if isinstance(calibration_dataset, np.ndarray) or not isinstance(calibration_dataset, Iterable):
            raise TypeError(f"'{type(calibration_dataset).__name__}' object cannot be converted to 'Sequence'")
        try:
            self._collector.run(calibration_dataset, self._consume)
        finally:  # a refused sample ends the call; the samples recorded before it count
            self._samples = self._collector.completed

    def _collect_data_and_return_outputs(self, calibration_dataset: Iterable[Sequence[np.ndarray]]
                                         ) -> List[List[np.ndarray]]:
        """Like :meth:`collect_data`, also returning the model's outputs for each sample."""
        outputs: list[list[np.ndarray]] = []
        try:
            self._collector.run(calibration_dataset, self._consume, outputs)
        finally:
            self._samples = self._collector.completed
        return outputs

    # --- ranges ---------------------------------------------------------------------------------
    def compute_range(self, verbose: bool = False) -> Dict[str, Tuple[float, float]]:
        """The calibrated ``(min, max)`` of every recorded tensor (graph inputs and outputs included)."""
        if self._samples == 0:
            raise RuntimeError("collect_data must be called before compute_range")
        objective = OBJECTIVES.lookup(self._spec.objective)
        names: Iterable[str] = self._tensors
        if verbose:
            from tqdm.auto import tqdm

            names = tqdm(self._tensors, desc="Computing ranges", unit="tensor")
        ranges: dict[str, tuple[float, float]] = {}
        for name in names:
            observer = self._observers.get(name)
            if observer is None or observer.empty:
                ranges[name] = (0.0, 0.0)
                continue
            low, high = objective(observer, self._spec.symmetric, self.percentage)
            ranges[name] = (float(low), float(high))
        return ranges
