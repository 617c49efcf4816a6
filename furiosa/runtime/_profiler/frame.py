"""Spans as the vendor's pandas DataFrame, and the tables the printed reports show.

The DataFrame has the vendor's columns, in order, with the vendor's dtypes
(spec/runtime-api.md §12.2): ids as hex strings, times as ``uint64`` ns since the Unix epoch,
``cat`` as pandas ``string`` (``""`` for user spans, ``"Runtime"`` for measured host spans,
``"NPU"`` for modeled device spans), indexes as nullable ``Int64``.

The tables are computed from the DataFrame only, so a DataFrame read back from CSV gives the
same reports:

* inferences: the ``Runtime`` spans named ``Inference``;
* NPU executions: ``NPU Total`` is the ``Execution`` span, ``NPU Run`` the sum of its operator
  spans (its children with an ``operator_index``), ``NPU IoWait = Total - Run``;
* NPU operators: operator spans grouped by name (mean duration, count), slowest first;
* external operators: ``Runtime`` spans of the program's host operators (they have an
  ``operator_index``).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import pandas as pd

from furiosa.device.emulator.events import Span

from .schema import COLUMNS, INDEXES, span_hex, trace_hex


def dataframe(spans: Iterable[Span]) -> pd.DataFrame:
    """The vendor's DataFrame of ``spans``, ordered by start time (stable)."""
    rows = sorted(spans, key=lambda s: s.start)
    data = {
        "trace_id": pd.Series([trace_hex(s.trace_id) for s in rows], dtype=object),
        "parent_span_id": pd.Series([span_hex(s.parent_span_id) for s in rows], dtype=object),
        "span_id": pd.Series([span_hex(s.span_id) for s in rows], dtype=object),
        "start": pd.Series([s.start for s in rows], dtype="uint64"),
        "end": pd.Series([s.end for s in rows], dtype="uint64"),
        "cat": pd.Series([s.cat for s in rows], dtype="string"),
        "name": pd.Series([s.name for s in rows], dtype=object),
        "thread.id": pd.Series([s.thread_id for s in rows], dtype="uint32"),
    }
    for column in INDEXES:
        data[column] = pd.Series([getattr(s, column) for s in rows], dtype="Int64")
    data["dur"] = pd.Series([s.end - s.start for s in rows], dtype="uint64")
    return pd.DataFrame(data, columns=list(COLUMNS))


def empty() -> pd.DataFrame:
    return dataframe(())


def by_category(df: pd.DataFrame, cats: Sequence[str]) -> pd.DataFrame:
    return df[df["cat"].isin(list(cats)).fillna(False).astype(bool)].reset_index(drop=True)


def inferences(df: pd.DataFrame) -> pd.DataFrame:
    """One row per inference: ``trace_id, span_id, thread.id, dur``."""
    rows = df[(df["cat"] == "Runtime").fillna(False) & (df["name"] == "Inference")]
    return rows[["trace_id", "span_id", "thread.id", "dur"]].reset_index(drop=True)


def operator_rows(df: pd.DataFrame) -> pd.DataFrame:
    """NPU operator spans: device spans of a program operator."""
    return df[(df["cat"] == "NPU").fillna(False) & df["operator_index"].notna()]


def npu_executions(df: pd.DataFrame) -> pd.DataFrame:
    """One row per NPU execution: ids, PE, index, and NPU Total / Run / IoWait in ns."""
    executions = df[(df["cat"] == "NPU").fillna(False) & (df["name"] == "Execution")]
    operators = operator_rows(df)
    run = operators.groupby("parent_span_id")["dur"].sum()
    out = pd.DataFrame({
        "trace_id": executions["trace_id"],
        "span_id": executions["span_id"],
        "pe_index": executions["pe_index"],
        "execution_index": executions["execution_index"],
        "NPU Total": executions["dur"].astype("int64"),
        "NPU Run": executions["span_id"].map(run).fillna(0).astype("int64"),
    })
    out["NPU IoWait"] = out["NPU Total"] - out["NPU Run"]
    return out.reset_index(drop=True)


def npu_operators(df: pd.DataFrame) -> pd.DataFrame:
    """One row per operator name: ``name, average_elapsed (ns), count``, slowest first."""
    operators = operator_rows(df)
    grouped = operators.groupby("name", sort=False)["dur"]
    out = pd.DataFrame({"average_elapsed (ns)": grouped.mean().astype("float64"), "count": grouped.size()})
    out = out.reset_index().rename(columns={"index": "name"})
    out = out.sort_values("average_elapsed (ns)", ascending=False, kind="stable")
    return out[["name", "average_elapsed (ns)", "count"]].reset_index(drop=True)


def external_operators(df: pd.DataFrame) -> pd.DataFrame:
    """Host operators of the program: ``trace_id, span_id, thread.id, name, operator_index, dur``."""
    rows = df[(df["cat"] == "Runtime").fillna(False) & df["operator_index"].notna()]
    return rows[["trace_id", "span_id", "thread.id", "name", "operator_index", "dur"]].reset_index(drop=True)
