"""Float32 element-wise functions, computed exactly as the ONNX reference evaluator does.

The emulated NPU applies an element-wise operator to int8 data as
``quantize(f(dequantize(x)))``; it tabulates that chain over all 256 (or 256 x 256) stored
values, so the only thing that decides its results is ``f`` on float32 inputs. Each ``f`` below
repeats the numpy expression of the corresponding ``onnx.reference`` operator, so the tables
are bit-exact to the reference. ``params`` hold the operator's attributes (``alpha``...).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

F = Callable[[np.ndarray], np.ndarray]
F2 = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _f32(value: Any) -> np.float32:
    return np.float32(value)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        exp_x = np.exp(x)
        return np.where(x > 0, 1.0 / (1.0 + np.exp(-x)), exp_x / (1.0 + exp_x)).astype(np.float32)


_erf = np.vectorize(math.erf, otypes=["f"])


def _clip(params: Mapping[str, Any]) -> F:
    lo = params.get("min")
    hi = params.get("max")
    lo = None if lo is None else _f32(lo)
    hi = None if hi is None else _f32(hi)
    if lo is None and hi is None:
        return lambda x: x
    return lambda x: np.clip(x, lo, hi).astype(np.float32)


def _leaky_relu(params: Mapping[str, Any]) -> F:
    alpha = float(params.get("alpha", 0.01))

    def f(x: np.ndarray) -> np.ndarray:
        sign = (x > 0).astype(x.dtype)
        sign -= ((sign - 1) * alpha).astype(x.dtype)
        return x * sign

    return f


def _elu(params: Mapping[str, Any]) -> F:
    alpha = float(params.get("alpha", 1.0))
    return lambda x: np.where(x > 0, x, alpha * np.expm1(x)).astype(np.float32)


def _hard_sigmoid(params: Mapping[str, Any]) -> F:
    alpha = float(params.get("alpha", 0.2))
    beta = float(params.get("beta", 0.5))
    return lambda x: np.maximum(0, np.minimum(1, x * alpha + beta)).astype(np.float32)


def _hard_swish(params: Mapping[str, Any]) -> F:
    return lambda x: (x * np.maximum(0, np.minimum(1, x * (1.0 / 6) + 0.5))).astype(np.float32)


def _quiet(f: F) -> F:
    def g(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(f(x)).astype(np.float32)

    return g


# name -> (ONNX op type, factory(params) -> f)
UNARY: dict[str, tuple[str, Callable[[Mapping[str, Any]], F]]] = {
    "identity": ("Identity", lambda p: lambda x: x),
    "relu": ("Relu", lambda p: lambda x: np.maximum(x, 0).astype(np.float32)),
    "clip": ("Clip", _clip),
    "leaky_relu": ("LeakyRelu", _leaky_relu),
    "sigmoid": ("Sigmoid", lambda p: _sigmoid),
    "tanh": ("Tanh", lambda p: np.tanh),
    "exp": ("Exp", lambda p: _quiet(np.exp)),
    "log": ("Log", lambda p: _quiet(np.log)),
    "softplus": ("Softplus", lambda p: _quiet(lambda x: np.logaddexp(0, x))),
    "sqrt": ("Sqrt", lambda p: _quiet(np.sqrt)),
    "elu": ("Elu", _elu),
    "erf": ("Erf", lambda p: _erf),
    "hard_sigmoid": ("HardSigmoid", _hard_sigmoid),
    "hard_swish": ("HardSwish", _hard_swish),
    "neg": ("Neg", lambda p: np.negative),
    "abs": ("Abs", lambda p: np.absolute),
}

# name -> (ONNX op type, f)
BINARY: dict[str, tuple[str, F2]] = {
    "add": ("Add", lambda a, b: a + b),
    "sub": ("Sub", lambda a, b: a - b),
    "mul": ("Mul", lambda a, b: a * b),
    "div": ("Div", lambda a, b: _divide(a, b)),
    "pow": ("Pow", lambda a, b: _power(a, b)),
    "max": ("Max", lambda a, b: np.maximum(a, b)),
    "min": ("Min", lambda a, b: np.minimum(a, b)),
}

ONNX_UNARY = {op: name for name, (op, _) in UNARY.items()}
ONNX_BINARY = {op: name for name, (op, _) in BINARY.items()}


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.divide(a, b)


def _power(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.power(a, b).astype(np.float32)


def unary(name: str, params: Mapping[str, Any] | None = None) -> F:
    """The float32 function of unary operator ``name`` with its attributes."""
    try:
        _, factory = UNARY[name]
    except KeyError:
        raise KeyError(f"no element-wise function {name!r}; known: {', '.join(sorted(UNARY))}") from None
    return factory(params or {})


def binary(name: str) -> F2:
    try:
        return BINARY[name][1]
    except KeyError:
        raise KeyError(f"no binary function {name!r}; known: {', '.join(sorted(BINARY))}") from None


def chain(first: F2, then: F | None) -> F2:
    """``then(first(a, b))``: a binary function followed by a fused activation."""
    if then is None:
        return first
    return lambda a, b: then(np.asarray(first(a, b), dtype=np.float32))
