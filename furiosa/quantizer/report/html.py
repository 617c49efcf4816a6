"""The accuracy report for people: a text summary and a self-contained HTML page.

The HTML page has no external resource (no script, no stylesheet, no font): an overview chart
of every layer's SQNR, the table of layers, and one card per layer, worst first, with a
histogram of its float values against its int8 range and, for bad layers, the diagnosis and the
suggestions with what applying each changed.
"""
from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

from . import svg
from .metrics import Metrics, format_db

if TYPE_CHECKING:
    from .accuracy import AccuracyReport, LayerResult, Outcome, Suggestion


def _db(metrics: Metrics | None) -> str:
    return "-" if metrics is None else format_db(metrics.sqnr_db)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _us(ns: int | None) -> str:
    return "-" if ns is None else f"{ns / 1000:.1f} us"


def _arrow(pair: tuple, fmt) -> str:
    return f"{fmt(pair[0])} -> {fmt(pair[1])}"


def outcome_text(outcome: "Outcome") -> str:
    """One line: what applying a suggestion changed."""
    def db(v: float) -> str:
        return "-" if v is None or math.isnan(v) else format_db(v)

    return (f"tensor {_arrow(outcome.tensor_sqnr_db, db)}, outputs {_arrow(outcome.output_sqnr_db, db)}, "
            f"top-1 agreement {_arrow(outcome.top1_agreement, _percent)}, modeled latency "
            f"{_arrow(outcome.latency_ns, _us)}, host operators {outcome.host_operators[0]} -> "
            f"{outcome.host_operators[1]}")


def _header(report: "AccuracyReport") -> list[str]:
    lines = [f"Accuracy report: {report.model_name}, target {report.target}, ranges from {report.ranges_source}, "
             f"{report.calibration_samples} calibration / {report.evaluation_samples} evaluation sample(s)"]
    for out in report.outputs:
        m = out.metrics
        agreement = "" if out.top1_agreement is None else f", top-1 agreement {_percent(out.top1_agreement)}"
        lines.append(f"Output {out.name}: SQNR {format_db(m.sqnr_db)}, cosine {m.cosine:.6f}, "
                     f"max |error| {m.max_abs_error:.4g}{agreement}")
    if report.latency is not None and report.latency.latency_ns is not None:
        lines.append(f"Modeled latency {_us(report.latency.latency_ns)} per query of {report.latency.batch} "
                     f"(NPU {_us(report.latency.npu_ns)})")
    for note in report.notes:
        lines.append(f"Note: {note}")
    return lines


def summary_text(report: "AccuracyReport", n: int = 10) -> str:
    """The worst ``n`` layers and every bad layer's suggestions, as plain text."""
    lines = _header(report)
    lines.append("")
    lines.append("Layers, worst first (own: error the layer adds itself; isolated: the layer fed quantized float "
                 "inputs; accumulated: end to end):")
    header = ("rank", "tensor", "operator", "own", "isolated", "accumulated", "cosine", "max |err|", "clipped", "")
    rows = []
    for rank, layer in enumerate(report.worst(n), 1):
        op = f"#{layer.operator} {layer.operator_name}" if layer.operator is not None else "input"
        rows.append((str(rank), layer.tensor, op, _db(layer.own), _db(layer.isolated), _db(layer.accumulated),
                     f"{layer.accumulated.cosine:.5f}", f"{layer.accumulated.max_abs_error:.4g}",
                     f"{100 * layer.clipped:.2f} %", "BAD" if layer.bad else ""))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for row in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    if len(report.layers) > n:
        lines.append(f"  ... {len(report.layers) - n} more layer(s) in the JSON and HTML reports")
    bad = report.bad_layers
    if not bad:
        lines.append(f"No layer adds more error than the threshold ({report.bad_sqnr_db:g} dB).")
    for layer in bad:
        lines.append("")
        lines.append(f"Bad layer {layer.tensor} (#{layer.operator} {layer.operator_name}: {', '.join(layer.nodes)}): "
                     f"{layer.diagnosis}")
        for suggestion in layer.suggestions:
            mark = "[recommended] " if suggestion.recommended else ""
            lines.append(f"  * {mark}{suggestion.summary}")
            if suggestion.outcome is not None:
                lines.append(f"      applied: {outcome_text(suggestion.outcome)}")
    return "\n".join(lines)


_STYLE = """
body { font-family: -apple-system, Helvetica, Arial, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; } h3 { font-size: 1em; margin: 0 0 .4em 0; }
table { border-collapse: collapse; font-size: 0.85em; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fee0d2; }
tr.npu td:first-child { border-left: 4px solid #3182bd; } tr.host td:first-child { border-left: 4px solid #e6550d; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .8em 1em; margin: 1em 0; }
.card.bad { border-color: #de2d26; }
.flex { display: flex; gap: 1.5em; flex-wrap: wrap; align-items: flex-start; }
.note { color: #555; font-size: .9em; }
.recommended { font-weight: bold; }
"""


def _metrics_row(label: str, metrics: Metrics | None) -> str:
    if metrics is None:
        return f"<tr><td>{label}</td><td colspan=\"3\">not measured</td></tr>"
    return (f"<tr><td>{label}</td><td class=\"num\">{format_db(metrics.sqnr_db)}</td>"
            f"<td class=\"num\">{metrics.cosine:.6f}</td><td class=\"num\">{metrics.max_abs_error:.4g}</td></tr>")


def _suggestion_html(suggestion: "Suggestion") -> str:
    e = html.escape
    mark = "<span class=\"recommended\">recommended:</span> " if suggestion.recommended else ""
    out = [f"<li>{mark}{e(suggestion.summary)}"]
    if suggestion.outcome is not None:
        out.append(f"<br><span class=\"note\">applied and measured: {e(outcome_text(suggestion.outcome))}</span>")
    out.append("</li>")
    return "".join(out)


def _card(rank: int, layer: "LayerResult") -> str:
    e = html.escape
    title = (f"#{rank} {layer.tensor} — operator {layer.operator} {layer.operator_name} ({layer.unit}) "
             f"from {', '.join(layer.nodes) or '-'}")
    chart = svg.histogram(layer.histogram.edges, layer.histogram.counts, layer.quantized_range,
                          title="float values, log scale (red: outside the int8 range)")
    calibrated = "-" if layer.calibrated_range is None else \
        f"[{layer.calibrated_range[0]:.5g}, {layer.calibrated_range[1]:.5g}]"
    owner = layer.range_owner or "fixed by the operator"
    body = [
        f"<div class=\"card{' bad' if layer.bad else ''}\"><h3>{e(title)}</h3><div class=\"flex\"><div>{chart}</div>",
        "<div><table><tr><th>error vs float</th><th>SQNR</th><th>cosine</th><th>max |error|</th></tr>",
        _metrics_row("own (added by this layer)", layer.own),
        _metrics_row("isolated (quantized float inputs)", layer.isolated),
        _metrics_row("accumulated (end to end)", layer.accumulated),
        _metrics_row("grid (range and step alone)", layer.grid),
        "</table><table>",
        f"<tr><td>int8 range</td><td class=\"num\">[{layer.quantized_range[0]:.5g}, {layer.quantized_range[1]:.5g}] "
        f"(scale {layer.scale:.4g}, zero point {layer.zero_point})</td></tr>",
        f"<tr><td>calibrated range</td><td class=\"num\">{e(calibrated)}</td></tr>",
        f"<tr><td>range set by</td><td>{e(owner)}</td></tr>",
        f"<tr><td>observed (evaluation)</td><td class=\"num\">[{layer.observed_range[0]:.5g}, "
        f"{layer.observed_range[1]:.5g}]</td></tr>",
        f"<tr><td>clipped</td><td class=\"num\">{100 * layer.clipped:.3f} %</td></tr></table></div></div>",
    ]
    if layer.bad:
        body.append(f"<p><b>Why:</b> {e(layer.diagnosis)}</p>")
        if layer.suggestions:
            body.append("<ul>" + "".join(_suggestion_html(s) for s in layer.suggestions) + "</ul>")
    body.append("</div>")
    return "\n".join(body)


def _placement(report: "AccuracyReport") -> str:
    """The compiler's placement table of the report's program (empty if the compiler has none)."""
    if report.program is None:
        return ""
    from furiosa.compiler import report as compiler_report

    render = getattr(compiler_report, "placement_html", None)
    return render(report.program) if render is not None else ""


def accuracy_html(report: "AccuracyReport") -> str:
    """The report as one self-contained HTML page."""
    e = html.escape
    ranked = report.worst()
    rank_of = {layer.tensor: i for i, layer in enumerate(ranked, 1)}
    short = len(report.layers) <= 12
    labels = [(layer.tensor if len(layer.tensor) <= 14 else layer.tensor[:13] + "…") if short else str(i)
              for i, layer in enumerate(report.layers)]
    chart = svg.lines(labels, {
        "own": [None if layer.own is None else layer.own.sqnr_db for layer in report.layers],
        "isolated": [None if layer.isolated is None else layer.isolated.sqnr_db for layer in report.layers],
        "accumulated": [layer.accumulated.sqnr_db for layer in report.layers],
        "grid": [layer.grid.sqnr_db for layer in report.layers],
    }, threshold=report.bad_sqnr_db, y_label="SQNR (dB)")
    out = [
        "<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Accuracy report: {e(report.model_name)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Accuracy report: {e(report.model_name)}</h1>",
        "<p>" + "<br>".join(e(line) for line in _header(report)) + "</p>",
        "<p class=\"note\">Every quantized tensor of the int8 program compared with the float model on the evaluation "
        "samples. <b>own</b>: the error the layer adds itself (its int8 operator against its float nodes, both fed "
        "the same quantized inputs); <b>isolated</b>: the layer fed the float model's inputs, quantized; "
        "<b>accumulated</b>: the program run end to end; <b>grid</b>: the float tensor rounded to its own int8 "
        f"range. Layers are ranked by their own SQNR; below {report.bad_sqnr_db:g} dB they are bad.</p>",
        "<h2>SQNR per layer (execution order; an exact tensor is drawn at the top)</h2>", chart,
        "<h2>Layers</h2><table><tr><th>#</th><th>rank</th><th>tensor</th><th>operator</th><th>unit</th>"
        "<th>own</th><th>isolated</th><th>accumulated</th><th>cosine</th><th>max |error|</th><th>clipped</th></tr>",
    ]
    for index, layer in enumerate(report.layers):
        op = f"{layer.operator} {layer.operator_name}" if layer.operator is not None else "input"
        out.append(f"<tr class=\"{'bad' if layer.bad else ''}\"><td class=\"num\">{index}</td>"
                   f"<td class=\"num\">{rank_of[layer.tensor]}</td><td>{e(layer.tensor)}</td><td>{e(op)}</td>"
                   f"<td>{e(layer.unit)}</td><td class=\"num\">{_db(layer.own)}</td>"
                   f"<td class=\"num\">{_db(layer.isolated)}</td><td class=\"num\">{_db(layer.accumulated)}</td>"
                   f"<td class=\"num\">{layer.accumulated.cosine:.6f}</td>"
                   f"<td class=\"num\">{layer.accumulated.max_abs_error:.4g}</td>"
                   f"<td class=\"num\">{100 * layer.clipped:.2f} %</td></tr>")
    out.append("</table><h2>Layers, worst first</h2>")
    for rank, layer in enumerate(ranked, 1):
        out.append(_card(rank, layer))
    placement = _placement(report)
    if placement:
        out.append("<h2>Placement of the compiled program</h2>")
        out.append("<p class=\"note\">Where each operator runs, why, and its modeled cost on the host and on the NPU "
                   "(docs/placement.md).</p>")
        out.append(placement)
    out.append("</body></html>")
    return "\n".join(out) + "\n"
