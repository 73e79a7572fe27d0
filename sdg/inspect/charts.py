"""Inline SVG charts for the HTML report: horizontal bars, one or more series per row, with an optional shaded band
and marker per row (e.g. chance ± 10 points) and reference lines (e.g. the re-draw threshold). Every bar carries
`data-series`, `data-label` and `data-value` (the exact number drawn), so a test can read the chart back."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Callable, Sequence

PALETTE = ("#3b6fb6", "#e08a2c", "#5aa05a", "#9a5bb5", "#c44e52")
BAND = "#cfe8cf"


@dataclass
class Series:
    name: str
    color: str
    fmt: Callable[[float], str] = str


@dataclass
class Row:
    label: str
    values: Sequence[float | None]
    band: tuple[float, float] | None = None  # shaded span behind the row (the acceptable range)
    marker: float | None = None  # a tick across the row (e.g. chance)
    note: str = ""  # text after the row's bars
    title: str = ""  # hover text of the row label


@dataclass
class Chart:
    rows: list[Row]
    series: list[Series]
    chart_id: str = ""
    vmax: float | None = None
    percent: bool = False  # axis in percent (values are fractions)
    refs: list[tuple[float, str]] = field(default_factory=list)  # vertical lines with their label
    width: int = 560
    label_w: int = 150
    note_w: int = 0  # room right of the plot for the rows' notes
    bar_h: int = 12
    band_label: str = ""
    marker_label: str = ""
    compact: bool = False  # rows only as tall as the values they have


def pct(v: float) -> str:
    return f"{100 * v:.0f} %"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * e >= v:
            return m * e
    return 10 * e


def _ticks(vmax: float, percent: bool) -> list[float]:
    """Round ticks from 0 to vmax: at most 6, steps of 1, 2, 2.5 or 5 x 10^k (fractions: 5 %, 10 %, 25 %...)."""
    for m in (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        step = m * 10 ** math.floor(math.log10(vmax)) * 10 if vmax > 0 else 1.0
        if vmax / step <= 5:
            break
    if percent and vmax >= 0.75:
        step = 0.25
    if not percent and step < 1:
        step = 1.0
    n = int(math.floor(vmax / step + 1e-9))
    return [round(i * step, 10) for i in range(n + 1)]


def _tick_text(v: float, percent: bool) -> str:
    if percent:
        return f"{100 * v:g} %"
    return f"{v:g}" if v == int(v) else f"{v:.1f}"


def svg_bars(chart: Chart) -> str:
    """The chart as an <svg> element (sized in CSS pixels, scales down with the page)."""
    ns = max(1, len(chart.series))
    # a row is as tall as its bars (compact: only the values it has; else one slot per series)
    heights = [(sum(v is not None for v in r.values) or 1 if chart.compact else ns) * chart.bar_h + 8
               for r in chart.rows]
    top, bottom = 8 + (18 if _legend_items(chart) else 0), 22
    plot_w = chart.width - chart.label_w - chart.note_w - 40
    height = top + sum(heights) + bottom
    max_chars = max(8, int(chart.label_w / 6.3))
    values = [v for r in chart.rows for v in r.values if v is not None]
    values += [hi for r in chart.rows if r.band for hi in r.band[1:]] + [v for v, _ in chart.refs]
    vmax = chart.vmax if chart.vmax is not None else (1.0 if chart.percent else _nice_max(max(values, default=1)))
    x = lambda v: chart.label_w + plot_w * min(max(v, 0.0), vmax) / vmax  # noqa: E731
    out = [f'<svg class="chart" id="{escape(chart.chart_id)}" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="0 0 {chart.width} {height}" width="{chart.width}" height="{height}" role="img">']
    out.append(_legend(chart))
    y_end = top + sum(heights)
    for t in _ticks(vmax, chart.percent):
        out.append(f'<line x1="{x(t):.1f}" y1="{top - 2}" x2="{x(t):.1f}" y2="{y_end}" class="grid"/>'
                   f'<text x="{x(t):.1f}" y="{y_end + 14}" class="tick" text-anchor="middle">'
                   f'{_tick_text(t, chart.percent)}</text>')
    y0 = top
    for row, row_h in zip(chart.rows, heights):
        if row.band:
            out.append(f'<rect x="{x(row.band[0]):.1f}" y="{y0 + 1}" width="{x(row.band[1]) - x(row.band[0]):.1f}" '
                       f'height="{row_h - 2}" fill="{BAND}"/>')
        lab = escape(row.label if len(row.label) <= max_chars else row.label[:max_chars - 1] + "…")
        tip = f"<title>{escape(row.title or row.label)}</title>"
        out.append(f'<text x="{chart.label_w - 6}" y="{y0 + row_h / 2 + 4:.1f}" class="lab" '
                   f'text-anchor="end">{tip}{lab}</text>')
        slot = 0
        for j, (s, v) in enumerate(zip(chart.series, row.values)):
            if v is None:
                continue
            yb = y0 + 4 + (slot if chart.compact else j) * chart.bar_h
            slot += 1
            w = max(x(v) - chart.label_w, 0.0)
            text = escape(s.fmt(v))
            out.append(f'<rect class="bar" data-series="{escape(s.name)}" data-label="{escape(row.label)}" '
                       f'data-value="{v!r}" x="{chart.label_w}" y="{yb}" width="{w:.1f}" '
                       f'height="{chart.bar_h - 2}" fill="{s.color}"><title>{escape(row.label)} · '
                       f'{escape(s.name)}: {text}</title></rect>'
                       f'<text x="{chart.label_w + w + 3:.1f}" y="{yb + chart.bar_h - 3}" class="val">{text}</text>')
        if row.marker is not None:
            out.append(f'<line x1="{x(row.marker):.1f}" y1="{y0 + 1}" x2="{x(row.marker):.1f}" '
                       f'y2="{y0 + row_h - 1}" class="marker"/>')
        if row.note:
            out.append(f'<text x="{chart.width - 2}" y="{y0 + row_h / 2 + 4:.1f}" class="note" '
                       f'text-anchor="end">{escape(row.note)}</text>')
        y0 += row_h
    for v, text in chart.refs:
        out.append(f'<line x1="{x(v):.1f}" y1="{top - 4}" x2="{x(v):.1f}" y2="{y_end}" class="ref"/>'
                   f'<text x="{x(v) + 3:.1f}" y="{top + 6}" class="reftext">{escape(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def _legend_items(chart: Chart) -> list[tuple[str, str, str]]:
    items = [("bar", s.color, s.name) for s in chart.series] if len(chart.series) > 1 else []
    if chart.band_label:
        items.append(("band", BAND, chart.band_label))
    if chart.marker_label:
        items.append(("marker", "#222", chart.marker_label))
    return items


def _legend(chart: Chart) -> str:
    out, lx = [], 4.0
    for kind, color, text in _legend_items(chart):
        if kind == "marker":
            out.append(f'<line x1="{lx + 5}" y1="3" x2="{lx + 5}" y2="15" class="marker"/>')
        else:
            out.append(f'<rect x="{lx}" y="4" width="12" height="10" fill="{color}"/>')
        out.append(f'<text x="{lx + 16}" y="13" class="legend">{escape(text)}</text>')
        lx += 24 + 6.2 * len(text)
    return "".join(out)


def counts_chart(counter: dict, chart_id: str, color: str = PALETTE[0], width: int = 560) -> str:
    """One bar per key of a {label: count} mapping, largest first."""
    rows = [Row(str(k), [float(v)]) for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    return svg_bars(Chart(rows, [Series("count", color, lambda v: f"{v:g}")], chart_id=chart_id, width=width))
