"""The calibration metadata the vendor's 0.10 quantizer records in an ONNX model.

``quantize`` (and ``ModelEditor``) write these ``metadata_props`` entries; the compiler reads
them. Keys and value formats are the vendor's, including the spelling ``FurisoaAI``
(spec/toolchain-api.md §3.5–3.6), so files are interchangeable with the vendor's tools.

* ``FurisoaAI.CalibrationResult``: YAML mapping of tensor name to ``[min, max]``;
* ``FurisoaAI.WithoutQuantize``: ascending comma-separated indexes into the pure inputs whose
  Quantize is removed (the input takes uint8);
* ``FurisoaAI.WithoutDequantize``: a list ``[(index,TYPE,RANGE),...]`` with TYPE ``I8``/``U8``
  and RANGE ``None`` or ``Some((lo,hi))``: outputs returned quantized.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import yaml

CALIBRATION_KEY = "FurisoaAI.CalibrationResult"
WITHOUT_QUANTIZE_KEY = "FurisoaAI.WithoutQuantize"
WITHOUT_DEQUANTIZE_KEY = "FurisoaAI.WithoutDequantize"


@dataclass(frozen=True)
class OutputConversion:
    """One ``WithoutDequantize`` entry: output ``index`` returned as ``dtype`` (int8/uint8)."""

    index: int
    dtype: str
    range: tuple[float, float] | None = None


def _number(value: float) -> str:
    """Shortest round-trip form with Rust's exponent spelling (``1e-9``, ``2.0``, ``1e16``)."""
    text = repr(float(value))
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def dump_ranges(ranges: Mapping[str, Sequence[float]]) -> str:
    """The YAML document the vendor writes for ``CalibrationResult``."""
    lines = ["---"]
    for name, bounds in ranges.items():
        lo, hi = bounds[0], bounds[1]
        lines.append(f"{yaml.safe_dump(name, default_style=None).strip().removesuffix('...').strip()}:")
        lines.append(f"  - {_number(lo)}")
        lines.append(f"  - {_number(hi)}")
    return "\n".join(lines) + "\n"


def yaml_problem(error: Exception) -> str:
    """Where and what a YAML error is, in one line (PyYAML's own text spans several)."""
    mark = getattr(error, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = getattr(error, "problem", None) or " ".join(str(error).split())
    return f"{where}: {problem}"


def load_ranges(text: str) -> dict[str, tuple[float, float]]:
    """Parse a ``CalibrationResult`` value; raise ``ValueError`` naming what is malformed."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{CALIBRATION_KEY} is not valid YAML{yaml_problem(error)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{CALIBRATION_KEY} must map tensor names to [min, max], got {type(data).__name__}")
    out: dict[str, tuple[float, float]] = {}
    for name, bounds in data.items():
        if not isinstance(bounds, (list, tuple)) or len(bounds) < 2:
            raise ValueError(f"{CALIBRATION_KEY} entry {name!r} must be [min, max], got {bounds!r}")
        try:
            out[str(name)] = (float(bounds[0]), float(bounds[1]))
        except (TypeError, ValueError):
            raise ValueError(f"{CALIBRATION_KEY} entry {name!r} must hold numbers, got {bounds!r}") from None
    return out


def dump_without_quantize(indexes: Sequence[int]) -> str:
    return ",".join(str(i) for i in sorted(set(indexes)))


def load_without_quantize(text: str) -> list[int]:
    text = text.strip()
    if not text:
        return []
    try:
        return sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise ValueError(f"{WITHOUT_QUANTIZE_KEY} must be comma-separated input indexes, got {text!r}") from None


_TYPES = {"I8": "int8", "U8": "uint8"}
_NAMES = {v: k for k, v in _TYPES.items()}
_ENTRY = re.compile(
    r"\(\s*(\d+)\s*,\s*(I8|U8)\s*,\s*(None|Some\(\(\s*([-+0-9.eE]+|inf|-inf)\s*,\s*([-+0-9.eE]+|inf|-inf)\s*\)\))\s*\)"
)


def _rust_float(value: float) -> str:
    return _number(value)


def dump_without_dequantize(entries: Sequence[OutputConversion]) -> str:
    parts = []
    for entry in entries:
        kind = _NAMES[entry.dtype]
        rng = "None" if entry.range is None else f"Some(({_rust_float(entry.range[0])},{_rust_float(entry.range[1])}))"
        parts.append(f"({entry.index},{kind},{rng})")
    return "[" + ",".join(parts) + "]"


def load_without_dequantize(text: str) -> list[OutputConversion]:
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError(f"{WITHOUT_DEQUANTIZE_KEY} must be a list like [(0,I8,None)], got {text!r}")
    body = text[1:-1].strip()
    entries: list[OutputConversion] = []
    position = 0
    while position < len(body):
        match = _ENTRY.match(body, position)
        if match is None:
            raise ValueError(f"{WITHOUT_DEQUANTIZE_KEY} has a malformed entry at {body[position:]!r}")
        index, kind, rng, lo, hi = match.groups()
        entries.append(OutputConversion(int(index), _TYPES[kind], None if rng == "None" else (float(lo), float(hi))))
        position = match.end()
        while position < len(body) and body[position] in ", ":
            position += 1
    return entries


@dataclass(frozen=True)
class Calibration:
    """Everything the metadata says about how to quantize a model."""

    ranges: Mapping[str, tuple[float, float]]
    without_quantize: tuple[int, ...] = ()
    without_dequantize: tuple[OutputConversion, ...] = ()

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> "Calibration | None":
        """Read the vendor keys; ``None`` when the model carries no calibration at all."""
        has_any = any(k in metadata for k in (CALIBRATION_KEY, WITHOUT_QUANTIZE_KEY, WITHOUT_DEQUANTIZE_KEY))
        if not has_any:
            return None
        ranges = load_ranges(metadata.get(CALIBRATION_KEY, ""))
        wq = load_without_quantize(metadata.get(WITHOUT_QUANTIZE_KEY, ""))
        wdq = load_without_dequantize(metadata.get(WITHOUT_DEQUANTIZE_KEY, "[]"))
        return cls(ranges, tuple(wq), tuple(wdq))
