"""The printed reports, in the vendor's formats (spec/runtime-api.md §12.3).

``summary`` is the "Inference Results Summary" block; ``table`` draws a DataFrame in the box
style of the vendor's reports (every row, no dtype row, no shape line, cells never wrapped).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

RULE = "=" * 48
PERCENTILES = (0.9, 0.95, 0.97, 0.99, 0.999)


def _round(value: float) -> int:
    """Nearest integer, halves away from zero (as the vendor's Rust code rounds)."""
    return int(math.floor(value + 0.5)) if value >= 0 else -int(math.floor(-value + 0.5))


def _line(label: str, value: Any) -> str:
    return f"{label:<30}  : {value}"


def summary(durations: "pd.Series | np.ndarray") -> str:
    """The "Inference Results Summary" of inference durations (ns)."""
    values = np.asarray(durations, dtype=np.float64)
    lines = [RULE, "  Inference Results Summary", RULE, _line("Inference counts", len(values))]
    if len(values):
        stats = [int(values.min()), int(values.max()), _round(float(values.mean())),
                 _round(float(np.percentile(values, 50)))]
        quantiles = [_round(float(np.percentile(values, p * 100))) for p in PERCENTILES]
    else:
        stats, quantiles = [0, 0, 0, 0], [0] * len(PERCENTILES)
    for label, value in zip(("Min latency (ns)", "Max latency (ns)", "Mean latency (ns)", "Median latency (ns)"),
                            stats):
        lines.append(_line(label, value))
    for p, value in zip(PERCENTILES, quantiles):
        lines.append(_line(f"{p * 100} percentile Latency (ns)", value))
    return "\n".join(lines)


def cell(value: Any) -> str:
    """How one value prints in a table."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, (float, np.floating)):
        text = f"{float(value):.6f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    return str(value)


def table(df: pd.DataFrame) -> str:
    """``df`` drawn as a box table: one space of padding, ``┆`` between cells."""
    headers = [str(c) for c in df.columns]
    rows = [[cell(v) for v in record] for record in df.astype(object).itertuples(index=False, name=None)]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def rule(left: str, fill: str, middle: str, right: str) -> str:
        return left + middle.join(fill * (w + 2) for w in widths) + right

    def row(cells: list[str]) -> str:
        return "│" + "┆".join(f" {c:<{w}} " for c, w in zip(cells, widths)) + "│"

    lines = [rule("┌", "─", "┬", "┐"), row(headers), rule("╞", "═", "╪", "╡")]
    lines.extend(row(r) for r in rows)
    lines.append(rule("└", "─", "┴", "┘"))
    return "\n".join(lines)
