"""Views of a compiled program for people: placement report, Graphviz DOT graph, memory report.

All three read only the :class:`~furiosa.compiler.enf.Program` (the ENF manifest), so they work
the same for a fresh compilation, a cache hit or an ENF file read back from disk:

* :func:`placement_text`: which operator runs where (NPU or host) and why, one line each, with
  its modeled cost where it runs and, for a host operator, on the NPU if it were supported
  (:mod:`.host_cost`); the nodes of a host ONNX subgraph are listed under it with their own
  reasons; :func:`placement_html` is the same table for HTML pages (the memory report has it);
* :func:`dot_graph`: the operator graph in Graphviz DOT, NPU operators and host operators in
  different colours, tensors on the edges;
* :func:`memory_html`: a self-contained HTML page of the memory plan: which weights stay in SRAM
  and which stream from DRAM, per operator, the activation space and the peak SRAM use.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Mapping

from .enf.program import Cost, Operator, Program

MIB = 1 << 20


# --- placement -------------------------------------------------------------------------------
def subgraph_nodes(op: Operator) -> list[Mapping[str, Any]]:
    """The ONNX nodes a host subgraph runs, each with ``name``, ``op_type`` and ``reason``."""
    nodes = op.attrs.get("nodes") if op.attrs else None
    return [n for n in nodes if isinstance(n, Mapping)] if nodes else []


@dataclass(frozen=True)
class PlacementEntry:
    """One line of the placement report: an operator, or a node of a host subgraph (``index`` "9.0").

    ``host_ns``: modeled cost on the host of a host operator; ``npu_ns``: modeled NPU time (of an
    NPU operator, or of a host operator if the NPU supported it; ``None`` with ``npu_note`` when it
    has no NPU form). Both are ``None`` where the program carries no estimate (see
    :mod:`furiosa.compiler.host_cost`).
    """

    index: str
    unit: str
    name: str
    kernel: str
    reason: str
    host_ns: int | None = None
    npu_ns: int | None = None
    npu_note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "unit": self.unit.lower(), "name": self.name, "kernel": self.kernel,
                "reason": self.reason, "host_ns": self.host_ns, "npu_ns": self.npu_ns, "npu_note": self.npu_note}


def _estimate(data: Any, program: Program) -> tuple[int | None, int | None, str]:
    """Host ns, NPU ns and note of a host operator's recorded estimate.

    The NPU time is recomputed from the recorded static cost with the current timing model (the
    recorded ``npu_ns`` is what it was at compile time), like the NPU operators' times.
    """
    if not isinstance(data, Mapping):
        return None, None, ""
    host, npu = data.get("host_ns"), data.get("npu_ns")
    cost = data.get("npu_cost")
    if isinstance(cost, Mapping):
        from .host_cost import npu_ns

        try:
            npu = npu_ns(Cost(**cost), program.target, program.batch_size)
        except (TypeError, ValueError):
            pass  # a cost written by another version: keep the recorded time
    return (None if host is None else int(host)), (None if npu is None else int(npu)), str(data.get("npu_note", ""))


def _npu_ns(op: Operator, program: Program) -> int | None:
    if op.cost is None:
        return None
    from .host_cost import npu_ns

    return npu_ns(op.cost, program.target, program.batch_size)


def placement_entries(program: Program) -> list[PlacementEntry]:
    """Every operator and every host-subgraph node, with its placement, reason and modeled costs."""
    entries = []
    for op in program.operators:
        nodes = subgraph_nodes(op)
        reason = op.reason if not nodes else f"ONNX subgraph of {len(nodes)} node(s) run by onnxruntime"
        if op.unit == "npu":
            entries.append(PlacementEntry(str(op.index), "NPU", op.name, op.kernel, reason, None, _npu_ns(op, program)))
        else:
            host, npu, note = _estimate(op.attrs.get("estimate") if op.attrs else None, program)
            entries.append(PlacementEntry(str(op.index), "HOST", op.name, op.kernel, reason, host, npu, note))
        for i, node in enumerate(nodes):
            host, npu, note = _estimate(node.get("estimate"), program)
            entries.append(PlacementEntry(f"{op.index}.{i}", "HOST", str(node.get("name", "?")),
                                          str(node.get("op_type", "?")), str(node.get("reason", "")), host, npu, note))
    return entries


def placement_rows(program: Program) -> list[tuple[str, str, str, str, str]]:
    """(index, unit, name, kernel, reason) for every operator and every host-subgraph node."""
    return [(e.index, e.unit, e.name, e.kernel, e.reason) for e in placement_entries(program)]


def microseconds(ns: int | None, missing: str = "n/a") -> str:
    """Nanoseconds as microseconds for people (``12.3 us``), or ``missing``."""
    if ns is None:
        return missing
    return f"{ns / 1000:.1f} us" if ns >= 100 else f"{ns / 1000:.2f} us"


def _cost_note(entry: PlacementEntry) -> str:
    if entry.unit == "NPU":
        return "" if entry.npu_ns is None else f"  [NPU {microseconds(entry.npu_ns)}]"
    if entry.host_ns is None and entry.npu_ns is None:
        return ""  # compiled before estimates were recorded
    npu = (f"NPU {microseconds(entry.npu_ns)} if supported" if entry.npu_ns is not None
           else f"NPU n/a: {entry.npu_note}" if entry.npu_note else "NPU n/a")
    return f"  [host {microseconds(entry.host_ns, '?')} | {npu}]"


def placement_text(program: Program) -> str:
    """The placement report printed by ``furiosa-compiler -v``.

    Each line ends with the operator's modeled cost in brackets: an NPU operator's modeled time;
    for a host operator its modeled host cost and what it would cost on the NPU if it were
    supported (``n/a`` and why, when it has no NPU form; :mod:`furiosa.compiler.host_cost`).
    """
    entries = placement_entries(program)
    rows = [(e.index, e.unit, e.name, e.kernel, e.reason + _cost_note(e)) for e in entries]
    header = ("#", "unit", "operator", "kernel", "reason [modeled cost]")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(4)]
    lines = ["Placement (operators in execution order):",
             "  " + "  ".join(h.ljust(w) for h, w in zip(header[:4], widths)) + "  " + header[4]]
    for row in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    npu = len(program.npu_operators)
    host = len(program.operators) - npu
    lines.append(f"Summary: {npu} NPU operator(s), {host} host operator(s), target {program.target}, "
                 f"batch size {program.batch_size}")
    top = [e for e in entries if "." not in e.index and e.unit == "HOST" and e.host_ns is not None]
    if top:
        movable = [e for e in top if e.npu_ns is not None]
        lines.append(f"Modeled host cost: {microseconds(sum(e.host_ns or 0 for e in top))} for {len(top)} host "
                     f"operator(s); the {len(movable)} with an NPU form take "
                     f"{microseconds(sum(e.host_ns or 0 for e in movable))} on the host and would take "
                     f"{microseconds(sum(e.npu_ns or 0 for e in movable))} on the NPU")
    reasons: dict[str, int] = {}
    for e in entries:
        if e.unit == "HOST" and not e.reason.startswith("ONNX subgraph"):
            reasons[e.reason] = reasons.get(e.reason, 0) + 1
    if reasons:
        lines.append("Why operators run on the host:")
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
            lines.append(f"  {count:4d} x {reason}")
    for warning in program.warnings:
        lines.append(f"Warning: {warning}")
    return "\n".join(lines)


def placement_html(program: Program) -> str:
    """The placement report as an HTML fragment (a table), for self-contained HTML pages."""
    return placement_entries_html(placement_entries(program))


def placement_entries_html(entries: list[PlacementEntry]) -> str:
    """An HTML table of placement entries (rows ``tr.npu`` / ``tr.host``, numbers in ``td.num``)."""
    e = html.escape
    out = [("<table class=\"placement\"><tr><th>#</th><th>unit</th><th>operator</th><th>kernel</th>"
            "<th>host (modeled)</th><th>NPU (modeled)</th><th>reason</th></tr>")]
    for entry in entries:
        unit = entry.unit.lower()
        host = microseconds(entry.host_ns, "-") if unit == "host" else ""
        npu = microseconds(entry.npu_ns, "n/a" if unit == "host" else "-")
        note = f" title=\"{e(entry.npu_note)}\"" if entry.npu_note else ""
        out.append(f"<tr class=\"{unit}\"><td class=\"num\">{e(entry.index)}</td><td>{entry.unit}</td>"
                   f"<td>{e(entry.name)}</td><td>{e(entry.kernel)}</td><td class=\"num\">{host}</td>"
                   f"<td class=\"num\"{note}>{npu}</td><td>{e(entry.reason)}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


# --- DOT -------------------------------------------------------------------------------------
def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _tensor_label(program: Program, name: str) -> str:
    spec = program.tensors.get(name)
    if spec is None:
        return name
    shape = "x".join(str(d) for d in spec.shape) or "scalar"
    return f"{name}\n{spec.dtype}[{shape}]"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dot_graph(program: Program) -> str:
    """The program as a Graphviz DOT digraph: operators as nodes, tensors as labelled edges."""
    lines = [
        "digraph program {",
        f"  label={_dot_string(f'{program.target}, batch {program.batch_size} (blue: NPU, orange: host)')};",
        '  labelloc="t";',
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8];',
    ]
    producer: dict[str, str] = {}
    for io in program.inputs:
        node = f"input_{len(producer)}"
        producer[io.tensor] = node
        lines.append(f"  {node} [shape=oval, style=filled, fillcolor=\"#eeeeee\", "
                     f"label={_dot_string('input ' + io.name)}];")
    for op in program.operators:
        node = f"op{op.index}"
        npu = op.unit == "npu"
        detail = [f"#{op.index} {op.name}", f"{op.unit.upper()}: {op.kernel}"]
        nodes = subgraph_nodes(op)
        if nodes:
            detail.append(f"{len(nodes)} ONNX node(s): " + _short(", ".join(str(n.get("op_type")) for n in nodes)))
        if op.reason and not nodes:
            detail.append(_short(op.reason))
        colour = "#9ecae1" if npu else "#fdae6b"
        lines.append(f"  {node} [shape=box, style=\"rounded,filled\", fillcolor=\"{colour}\", "
                     f"unit={_dot_string(op.unit)}, tooltip={_dot_string(op.reason)}, "
                     f"label={_dot_string(chr(10).join(detail))}];")
        for name in op.inputs:
            if name in producer:
                lines.append(f"  {producer[name]} -> {node} [label={_dot_string(_tensor_label(program, name))}];")
        for name in op.outputs:
            producer[name] = node
    for i, io in enumerate(program.outputs):
        node = f"output_{i}"
        lines.append(f"  {node} [shape=oval, style=filled, fillcolor=\"#eeeeee\", "
                     f"label={_dot_string('output ' + io.name)}];")
        if io.tensor in producer:
            lines.append(f"  {producer[io.tensor]} -> {node} [label={_dot_string(_tensor_label(program, io.tensor))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- memory ----------------------------------------------------------------------------------
def _bytes(n: Any) -> str:
    n = int(n or 0)
    if n >= MIB:
        return f"{n / MIB:.2f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n} B"


def memory_rows(program: Program) -> list[dict[str, Any]]:
    """Per operator: where it runs, where its weights sit, its activations and the SRAM in use."""
    plan = program.memory or {}
    by_index = {int(e.get("operator", -1)): e for e in plan.get("operators", ()) if isinstance(e, Mapping)}
    resident_total = int(plan.get("sram_weight_bytes", 0) or 0)
    rows = []
    for op in program.operators:
        entry = by_index.get(op.index)
        if op.unit == "npu" and entry is not None:
            where = {"sram": "SRAM (pinned)", "dram": "DRAM (streamed)", "none": "-"}.get(str(entry.get("weights")),
                                                                                        str(entry.get("weights")))
            activation = int(entry.get("activation_bytes", 0) or 0)
            rows.append({"index": op.index, "name": op.name, "unit": "NPU", "weights": where,
                         "weight_bytes": int(entry.get("weight_bytes", 0) or 0), "activation_bytes": activation,
                         "sram_in_use": resident_total + activation, "memory": "SRAM"})
        else:
            size = sum(program.tensors[n].nbytes for n in (*op.inputs, *op.outputs) if n in program.tensors)
            consts = sum(program.tensors[n].nbytes for n in op.inputs
                         if n in program.tensors and program.tensors[n].constant)
            rows.append({"index": op.index, "name": op.name, "unit": op.unit.upper(),
                         "weights": "host memory" if consts else "-", "weight_bytes": consts,
                         "activation_bytes": size - consts, "sram_in_use": None, "memory": "host DRAM"})
    return rows


_STYLE = """
body { font-family: -apple-system, Helvetica, Arial, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.npu td:first-child { border-left: 4px solid #3182bd; } tr.host td:first-child { border-left: 4px solid #e6550d; }
.bar { background: #deebf7; height: 10px; display: inline-block; vertical-align: middle; }
.bar.w { background: #3182bd; } .bar.d { background: #e6550d; }
.summary td:first-child { font-weight: bold; }
"""


def memory_html(program: Program, title: str = "Memory analysis") -> str:
    """A self-contained HTML report of the program's memory plan."""
    plan = program.memory or {}
    sram = int(plan.get("sram_bytes", 0) or 0)
    dram = int(plan.get("dram_bytes", 0) or 0)
    pinned = int(plan.get("sram_weight_bytes", 0) or 0)
    streamed = int(plan.get("dram_weight_bytes", 0) or 0)
    peak_activation = int(plan.get("peak_activation_bytes", 0) or 0)
    peak = pinned + peak_activation
    io_bytes = sum(io.nbytes for io in (*program.inputs, *program.outputs))
    rows = memory_rows(program)
    scale = max([sram] + [r["sram_in_use"] or 0 for r in rows]) or 1
    e = html.escape

    out = [
        "<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>Target <b>{e(program.target)}</b>, batch size {program.batch_size}, compiled by furiosa-compiler "
        f"{e(program.compiler_version)}. {len(program.npu_operators)} NPU operator(s), "
        f"{len(program.host_operators)} host operator(s).</p>",
        "<h2>Summary</h2><table class=\"summary\">",
        f"<tr><td>SRAM capacity</td><td class=\"num\">{_bytes(sram)}</td></tr>",
        f"<tr><td>Weights pinned in SRAM</td><td class=\"num\">{_bytes(pinned)}</td>"
        f"<td>{len(plan.get('resident_weights', ()))} operator(s)</td></tr>",
        f"<tr><td>Weights streamed from DRAM</td><td class=\"num\">{_bytes(streamed)}</td>"
        f"<td>{len(plan.get('streamed_weights', ()))} operator(s), read at every execution</td></tr>",
        f"<tr><td>Peak activation space</td><td class=\"num\">{_bytes(peak_activation)}</td>"
        "<td>largest operator's inputs and outputs</td></tr>",
        f"<tr><td>Peak SRAM use</td><td class=\"num\">{_bytes(peak)}</td>"
        f"<td>{(100.0 * peak / sram) if sram else 0:.1f} % of SRAM</td></tr>",
        f"<tr><td>DRAM capacity</td><td class=\"num\">{_bytes(dram)}</td></tr>",
        f"<tr><td>Input and output buffers (DRAM)</td><td class=\"num\">{_bytes(io_bytes)}</td>"
        f"<td>{len(program.inputs)} input(s), {len(program.outputs)} output(s)</td></tr>",
        "</table>",
        "<h2>Per operator</h2>",
        "<p>NPU operators keep their activations in SRAM; their weights are pinned in SRAM while the budget "
        "lasts and streamed from DRAM after that. Host operators work in host memory.</p>",
        "<table><tr><th>#</th><th>operator</th><th>unit</th><th>weights</th><th>weight bytes</th>"
        "<th>activation bytes</th><th>SRAM in use</th><th></th></tr>",
    ]
    for row in rows:
        in_use = row["sram_in_use"]
        bar = ""
        if in_use is not None:
            w = int(300 * pinned / scale)
            a = int(300 * row["activation_bytes"] / scale)
            bar = (f"<span class=\"bar w\" style=\"width:{w}px\" title=\"pinned weights\"></span>"
                   f"<span class=\"bar\" style=\"width:{a}px\" title=\"activations\"></span>")
            if row["weights"].startswith("DRAM"):
                bar += "<span class=\"bar d\" style=\"width:6px\" title=\"streamed weights\"></span>"
        out.append(
            f"<tr class=\"{row['unit'].lower()}\"><td class=\"num\">{row['index']}</td><td>{e(row['name'])}</td>"
            f"<td>{row['unit']}</td><td>{e(row['weights'])}</td><td class=\"num\">{_bytes(row['weight_bytes'])}</td>"
            f"<td class=\"num\">{_bytes(row['activation_bytes'])}</td>"
            f"<td class=\"num\">{'-' if in_use is None else _bytes(in_use)}</td><td>{bar}</td></tr>"
        )
    out.append("</table>")
    out.append("<h2>Inputs and outputs</h2><table><tr><th>name</th><th>direction</th><th>shape</th>"
               "<th>dtype</th><th>layout</th><th>bytes</th></tr>")
    for direction, ios in (("input", program.inputs), ("output", program.outputs)):
        for io in ios:
            out.append(f"<tr><td>{e(io.name)}</td><td>{direction}</td><td>{e(str(list(io.shape)))}</td>"
                       f"<td>{e(io.dtype)}</td><td>{e(io.layout)}</td><td class=\"num\">{_bytes(io.nbytes)}</td></tr>")
    out.append("</table>")
    out.append("<h2>Placement</h2><p>Where each operator runs and why; modeled costs on the host and on the NPU "
               "(for a host operator: what it would cost if the NPU supported it).</p>")
    out.append(placement_html(program))
    out.append("</body></html>")
    return "\n".join(out) + "\n"
