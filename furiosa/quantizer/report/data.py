"""Calibration and evaluation samples for the reports: checked, loaded from files, or synthetic.

A *sample* is what ``Calibrator.collect_data`` takes for one call: one numpy array per pure
input of the model, in graph-input order, of exactly the input's shape and dtype. The reports
take a sequence of samples, and the commands build one from files:

* ``.npy``: one array holding the samples of a single-input model stacked on a new first axis
  (``[N, *input_shape]``), or rows of the input's batch axis (``[M, *input_shape[1:]]``, grouped
  ``input_shape[0]`` rows at a time; rows that do not fill a last batch are left out);
* ``.npz``: one such array per input, named after the input (or ``arr_0``, ``arr_1``... in input
  order, as ``numpy.savez`` names positional arrays).

Arrays of another numeric dtype are converted to the input's dtype when no value changes
(``float64`` images to a ``float32`` input: rounded to float32); anything else is refused with
the input's name, shape and dtype. :func:`synthetic` draws random samples (N(0, 1) for float
inputs, the whole range for integer inputs) for models without data: accuracy measured on them
says how closely the int8 program follows the float model on such inputs, not how well it does
its task.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import onnx
from onnx import helper

log = logging.getLogger("furiosa.quantizer")

Sample = list[np.ndarray]


@dataclass(frozen=True)
class InputInfo:
    """A pure input of the model: its name, static shape and numpy dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype

    def describe(self) -> str:
        return f"{self.name!r} [{', '.join(str(d) for d in self.shape)}] ({self.dtype.name})"


def model_inputs(model: onnx.ModelProto) -> list[InputInfo]:
    """The pure (non-initializer) inputs of ``model``, which must have static shapes."""
    initializers = {t.name for t in model.graph.initializer}
    out = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        kind = value.type.tensor_type
        dims = []
        for dim in kind.shape.dim:
            if not dim.HasField("dim_value") or dim.dim_value <= 0:
                raise ValueError(f"input {value.name!r} has a dynamic shape "
                                 f"({[d.dim_param or d.dim_value for d in kind.shape.dim]}); the reports need "
                                 "static input shapes (fix them with onnx.tools.update_model_dims or re-export)")
            dims.append(int(dim.dim_value))
        out.append(InputInfo(value.name, tuple(dims), np.dtype(helper.tensor_dtype_to_np_dtype(kind.elem_type))))
    if not out:
        raise ValueError("the model has no pure input to feed")
    return out


def _convert(array: np.ndarray, info: InputInfo, what: str) -> np.ndarray:
    if array.dtype == info.dtype:
        return array
    lossless = np.can_cast(array.dtype, info.dtype, casting="safe")
    float_to_float = array.dtype.kind == "f" and info.dtype.kind == "f"
    if not (lossless or float_to_float):
        raise ValueError(f"{what} has dtype {array.dtype.name}; input {info.describe()} takes {info.dtype.name} "
                         f"(or a type that converts to it without loss)")
    return array.astype(info.dtype)


def check_samples(samples: Iterable[Sequence[np.ndarray]], inputs: list[InputInfo], what: str) -> list[Sample]:
    """``samples`` as a list of per-input arrays of the inputs' exact shapes and dtypes."""
    if isinstance(samples, np.ndarray) or not isinstance(samples, Iterable):
        raise TypeError(f"{what} must be a sequence of samples (each a list with one array per input), "
                        f"got {type(samples).__name__}")
    out: list[Sample] = []
    for index, sample in enumerate(samples):
        if isinstance(sample, np.ndarray) or not isinstance(sample, Sequence) or isinstance(sample, (str, bytes)):
            raise TypeError(f"{what}[{index}] must be a list with one array per input, got {type(sample).__name__}")
        if len(sample) != len(inputs):
            raise ValueError(f"{what}[{index}] holds {len(sample)} array(s); the model has {len(inputs)} input(s): "
                             + ", ".join(i.describe() for i in inputs))
        arrays = []
        for info, array in zip(inputs, sample):
            array = np.asarray(array)
            if array.shape != info.shape:
                raise ValueError(f"{what}[{index}] has shape {list(array.shape)} for input {info.describe()}")
            arrays.append(np.ascontiguousarray(_convert(array, info, f"{what}[{index}]")))
        out.append(arrays)
    if not out:
        raise ValueError(f"{what} holds no sample")
    return out


def split_stacked(array: np.ndarray, info: InputInfo, what: str) -> list[np.ndarray]:
    """One input's samples from an array stacking them (``[N, *shape]``) or its batch rows."""
    shape = info.shape
    if array.shape[1:] == shape and array.shape[0] >= 1:
        return [_convert(a, info, what) for a in array]
    if shape and array.ndim == len(shape) and array.shape[1:] == shape[1:]:
        per, count = shape[0], array.shape[0] // shape[0]
        if count == 0:
            raise ValueError(f"{what} holds {array.shape[0]} row(s), fewer than one batch of input "
                             f"{info.describe()}")
        if array.shape[0] % per:
            log.warning("%s: %d row(s) do not fill a batch of %d and are left out", what, array.shape[0] % per, per)
        return [_convert(array[i * per:(i + 1) * per], info, what) for i in range(count)]
    raise ValueError(f"{what} has shape {list(array.shape)}; input {info.describe()} takes samples stacked on a new "
                     f"first axis ({[ 'N', *shape]}) or rows of its batch axis ({['N', *shape[1:]]})")


def load(path: "str | Path", inputs: list[InputInfo]) -> list[Sample]:
    """Samples from a ``.npy`` (single-input models) or ``.npz`` file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        loaded: Any = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ValueError(f"{path} is not a .npy or .npz file: {error}") from None
    if isinstance(loaded, np.ndarray):
        if len(inputs) != 1:
            raise ValueError(f"{path} holds one array but the model has {len(inputs)} inputs "
                             f"({', '.join(i.name for i in inputs)}); give an .npz file with one array per input")
        per_input = [split_stacked(loaded, inputs[0], str(path))]
    else:
        with loaded:
            names = list(loaded.files)
            per_input = []
            for position, info in enumerate(inputs):
                key = info.name if info.name in names else f"arr_{position}"
                if key not in names:
                    raise ValueError(f"{path} has no array for input {info.name!r} (arrays: {', '.join(names)}); "
                                     f"name them after the inputs ({', '.join(i.name for i in inputs)})")
                per_input.append(split_stacked(loaded[key], info, f"{path}[{key}]"))
    counts = {len(p) for p in per_input}
    if len(counts) != 1:
        raise ValueError(f"{path}: the inputs have different numbers of samples ({sorted(counts)})")
    return check_samples([list(arrays) for arrays in zip(*per_input)], inputs, str(path))


def synthetic(inputs: list[InputInfo], count: int, seed: int = 0) -> list[Sample]:
    """``count`` random samples: N(0, 1) for float inputs, the whole range for integer ones."""
    if count < 1:
        raise ValueError(f"the number of synthetic samples must be positive, got {count}")
    rng = np.random.default_rng(seed)
    samples: list[Sample] = []
    for _ in range(count):
        arrays = []
        for info in inputs:
            if info.dtype.kind == "f":
                arrays.append(rng.standard_normal(info.shape).astype(info.dtype))
            elif info.dtype.kind == "b":
                arrays.append(rng.random(info.shape) < 0.5)
            else:
                limits = np.iinfo(info.dtype)
                arrays.append(rng.integers(limits.min, limits.max, size=info.shape, endpoint=True).astype(info.dtype))
        samples.append(arrays)
    return samples


@dataclass(frozen=True)
class Datasets:
    """Calibration and evaluation samples for a command, and what the user should know about them."""

    calibration: list[Sample]
    evaluation: list[Sample]
    synthetic: bool
    notes: tuple[str, ...] = ()


SYNTHETIC_NOTE = ("no data given: {count} random samples per set (N(0, 1) for float inputs, the whole range for "
                  "integer inputs); the accuracy figures measure how closely the int8 program follows the float "
                  "model on such inputs, not task accuracy")


def datasets(inputs: list[InputInfo], calibration: "str | Path | None" = None,
             evaluation: "str | Path | None" = None, samples: int = 32, seed: int = 0) -> Datasets:
    """The commands' data: files when given (:func:`load`), else random samples (:func:`synthetic`).

    Without an evaluation file the calibration samples are evaluated too, and the other way round;
    without any file, calibration and evaluation get different random samples (seeds ``seed`` and
    ``seed + 1``).
    """
    if calibration is None and evaluation is None:
        return Datasets(synthetic(inputs, samples, seed), synthetic(inputs, samples, seed + 1), True,
                        (SYNTHETIC_NOTE.format(count=samples),))
    notes = []
    cal = None if calibration is None else load(calibration, inputs)
    ev = None if evaluation is None else load(evaluation, inputs)
    if ev is None:
        notes.append(f"no evaluation data: the {len(cal or [])} calibration samples are evaluated")
        ev = cal
    if cal is None:
        notes.append(f"no calibration data: the model is calibrated on the {len(ev or [])} evaluation samples")
        cal = ev
    assert cal is not None and ev is not None
    return Datasets(cal, ev, False, tuple(notes))
