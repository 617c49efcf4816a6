"""Small inline SVG charts for the self-contained HTML reports and the sweep plot (no JavaScript).

Three kinds, each a function returning an ``<svg>`` element as a string:

* :func:`histogram`: a tensor's float values in bins, bins beyond the int8 range in red, the
  range's ends as dashed lines;
* :func:`lines`: a few series over the layers (SQNR per layer), with a horizontal threshold;
* :func:`scatter`: points with labels (colour by group, circle or square) and a highlighted front
  (the sweep's Pareto plot).
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Sequence

PALETTE = ("#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#d6616b", "#8c6d31", "#17becf")
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e4:
        return f"{value:,.0f}"
    if magnitude < 1e-3:
        return f"{value:.2g}"
    return f"{value:.4g}"


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw), default=raw)
    start = math.ceil(lo / step) * step
    out = []
    value = start
    while value <= hi + step * 1e-9:
        out.append(round(value, 12))
        value += step
    return out


def histogram(edges: Sequence[float], counts: Sequence[int], inside: tuple[float, float], *,
              width: int = 360, height: int = 120, title: str = "") -> str:
    """Bars of ``counts`` over ``edges`` (heights on a log scale); bins outside ``inside`` (the int8 range) are red."""
    left, right, top, bottom = 8, 8, 16 if title else 6, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    lo, hi = edges[0], edges[-1]
    span = (hi - lo) or 1.0
    peak = max(counts) if counts and max(counts) > 0 else 1

    def x(value: float) -> float:
        return left + (value - lo) / span * plot_w

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">']
    if title:
        parts.append(f'<text x="{left}" y="11" font-size="10" {FONT}>{_e(title)}</text>')
    band_lo, band_hi = max(inside[0], lo), min(inside[1], hi)
    if band_hi > band_lo:
        parts.append(f'<rect x="{x(band_lo):.1f}" y="{top}" width="{x(band_hi) - x(band_lo):.1f}" height="{plot_h}" '
                     f'fill="#f3f8fc"/>')
    for a, b, count in zip(edges[:-1], edges[1:], counts):
        if count <= 0:
            continue
        h = max(1.0, math.log1p(count) / math.log1p(peak) * plot_h)
        outside = b <= inside[0] or a >= inside[1]
        colour = "#de2d26" if outside else "#6baed6"
        parts.append(f'<rect x="{x(a):.1f}" y="{top + plot_h - h:.1f}" width="{max(x(b) - x(a) - 0.5, 0.5):.1f}" '
                     f'height="{h:.1f}" fill="{colour}"><title>[{_num(a)}, {_num(b)}): {count}</title></rect>')
    for value, label in ((inside[0], "int8 min"), (inside[1], "int8 max")):
        if lo <= value <= hi:
            parts.append(f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top}" y2="{top + plot_h}" '
                         f'stroke="#222" stroke-dasharray="3,2"><title>{label} {_num(value)}</title></line>')
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#888"/>')
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="9" {FONT}>{_e(_num(lo))}</text>')
    parts.append(f'<text x="{left + plot_w}" y="{height - 8}" font-size="9" text-anchor="end" {FONT}>'
                 f'{_e(_num(hi))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def lines(labels: Sequence[str], series: dict[str, Sequence[float | None]], *, threshold: float | None = None,
          width: int = 720, height: int = 240, y_label: str = "") -> str:
    """Each series as a line of points over ``labels`` (None: no point); infinite values are clipped."""
    left, right, top, bottom = 48, 120, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    finite = [v for values in series.values() for v in values if v is not None and math.isfinite(v)]
    if threshold is not None:
        finite.append(threshold)
    lo = min(finite, default=0.0)
    hi = max(finite, default=1.0)
    lo, hi = (math.floor(lo / 10) * 10, math.ceil(hi / 10) * 10) if hi > lo else (lo - 5, hi + 5)
    n = max(len(labels), 1)

    def x(i: int) -> float:
        return left + (i + 0.5) / n * plot_w

    def y(v: float) -> float:
        v = min(max(v, lo), hi)
        return top + (hi - v) / (hi - lo) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">']
    for tick in _ticks(lo, hi):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 4}" y="{y(tick) + 3:.1f}" font-size="9" text-anchor="end" {FONT}>'
                     f'{_e(_num(tick))}</text>')
    if y_label:
        parts.append(f'<text x="10" y="{top + plot_h / 2:.1f}" font-size="10" {FONT} '
                     f'transform="rotate(-90 10 {top + plot_h / 2:.1f})" text-anchor="middle">{_e(y_label)}</text>')
    if threshold is not None:
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(threshold):.1f}" y2="{y(threshold):.1f}" '
                     f'stroke="#de2d26" stroke-dasharray="4,3"><title>threshold {_num(threshold)}</title></line>')
    for i, label in enumerate(labels):
        parts.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 14}" font-size="9" text-anchor="middle" {FONT}>'
                     f'{_e(label)}</text>')
    for k, (name, values) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        points = [(x(i), y(v), v) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        for px, py, v in points:
            shown = "exact" if v == math.inf else _num(v)
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"><title>{_e(name)}: {shown}'
                         f'</title></circle>')
        ly = top + 12 + 14 * k
        parts.append(f'<rect x="{left + plot_w + 12}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{left + plot_w + 26}" y="{ly + 1}" font-size="10" {FONT}>{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Point:
    """One point of a scatter plot."""

    x: float
    y: float
    group: str
    label: str = ""
    front: bool = False
    square: bool = False


def scatter(points: Sequence[Point], *, x_label: str, y_label: str, title: str = "", log_x: bool = False,
            width: int = 560, height: int = 360, square_label: str = "", circle_label: str = "") -> str:
    """Points coloured by group, circles or squares; points on the front are ringed and joined in x order."""
    left, right, top, bottom = 56, 200, 28 if title else 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [p.x for p in points if p.x > 0 or not log_x]
    ys = [p.y for p in points]
    if not xs or not ys:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="40">'
                '<text x="4" y="20">no data</text></svg>')

    def tx(v: float) -> float:
        return math.log10(v) if log_x else v

    x_lo, x_hi = min(tx(v) for v in xs), max(tx(v) for v in xs)
    if x_hi <= x_lo:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    pad_x = (x_hi - x_lo) * 0.05
    x_lo, x_hi = x_lo - pad_x, x_hi + pad_x
    y_lo, y_hi = min(ys), max(ys)
    if y_hi <= y_lo:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
    pad_y = (y_hi - y_lo) * 0.08
    y_lo, y_hi = y_lo - pad_y, y_hi + pad_y

    def px(v: float) -> float:
        return left + (tx(v) - x_lo) / (x_hi - x_lo) * plot_w

    def py(v: float) -> float:
        return top + (y_hi - v) / (y_hi - y_lo) * plot_h

    groups = list(dict.fromkeys(p.group for p in points))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>']
    if title:
        parts.append(f'<text x="{left}" y="16" font-size="12" font-weight="bold" {FONT}>{_e(title)}</text>')
    if log_x:
        x_ticks = [10 ** e for e in range(math.floor(x_lo), math.ceil(x_hi) + 1)]
        for mantissa in (2, 5):
            x_ticks += [mantissa * 10 ** e for e in range(math.floor(x_lo), math.ceil(x_hi) + 1)]
        x_ticks = sorted(t for t in x_ticks if x_lo <= math.log10(t) <= x_hi)
    else:
        x_ticks = _ticks(x_lo, x_hi)
    for tick in x_ticks:
        parts.append(f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{top}" y2="{top + plot_h}" stroke="#f0f0f0"/>')
        parts.append(f'<text x="{px(tick):.1f}" y="{top + plot_h + 14}" font-size="9" text-anchor="middle" {FONT}>'
                     f'{_e(_num(tick))}</text>')
    for tick in _ticks(y_lo, y_hi):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" '
                     'stroke="#f0f0f0"/>')
        parts.append(f'<text x="{left - 4}" y="{py(tick) + 3:.1f}" font-size="9" text-anchor="end" {FONT}>'
                     f'{_e(_num(tick))}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" font-size="10" text-anchor="middle" {FONT}>'
                 f'{_e(x_label)}</text>')
    parts.append(f'<text x="12" y="{top + plot_h / 2:.1f}" font-size="10" text-anchor="middle" {FONT} '
                 f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{_e(y_label)}</text>')
    front = sorted((p for p in points if p.front and (p.x > 0 or not log_x)), key=lambda p: p.x)
    if len(front) > 1:
        path = " ".join(f"{px(p.x):.1f},{py(p.y):.1f}" for p in front)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#222" stroke-width="1" stroke-dasharray="4,2"/>')
    for p in points:
        if log_x and p.x <= 0:
            continue
        colour = PALETTE[groups.index(p.group) % len(PALETTE)]
        ring = ' stroke="#000" stroke-width="1.5"' if p.front else ""
        size = 4.5 if p.front else 3.5
        if p.square:
            parts.append(f'<rect x="{px(p.x) - size:.1f}" y="{py(p.y) - size:.1f}" width="{2 * size:.1f}" '
                         f'height="{2 * size:.1f}" fill="{colour}" fill-opacity="0.85"{ring}>'
                         f'<title>{_e(p.label or p.group)}</title></rect>')
        else:
            parts.append(f'<circle cx="{px(p.x):.1f}" cy="{py(p.y):.1f}" r="{size}" fill="{colour}" '
                         f'fill-opacity="0.85"{ring}><title>{_e(p.label or p.group)}</title></circle>')
    for k, group in enumerate(groups):
        ly = top + 10 + 14 * k
        parts.append(f'<circle cx="{left + plot_w + 16}" cy="{ly - 3}" r="4" fill="{PALETTE[k % len(PALETTE)]}"/>')
        parts.append(f'<text x="{left + plot_w + 26}" y="{ly + 1}" font-size="10" {FONT}>{_e(group)}</text>')
    ly = top + 10 + 14 * len(groups) + 6
    parts.append(f'<circle cx="{left + plot_w + 16}" cy="{ly - 3}" r="4.5" fill="#fff" stroke="#000" '
                 'stroke-width="1.5"/>')
    parts.append(f'<text x="{left + plot_w + 26}" y="{ly + 1}" font-size="10" {FONT}>Pareto front</text>')
    for label, square in ((circle_label, False), (square_label, True)):
        if not label:
            continue
        ly += 14
        marker = (f'<rect x="{left + plot_w + 12}" y="{ly - 7}" width="8" height="8" fill="#999"/>' if square else
                  f'<circle cx="{left + plot_w + 16}" cy="{ly - 3}" r="4" fill="#999"/>')
        parts.append(marker)
        parts.append(f'<text x="{left + plot_w + 26}" y="{ly + 1}" font-size="10" {FONT}>{_e(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
