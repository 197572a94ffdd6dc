"""Server-rendered SVG charts: bars (grouped or stacked) and lines. No JavaScript, no files.

Shared by both front ends: the managers' reports (``backoffice/reports``) and the traffic charts
of the cabinet and the subscriber card. The domain says what it draws (``tables.reports.Chart``:
title, labels, series, kind, money or bytes); this module draws it. Values are plotted as floats
(pixel geometry only); labels are formatted by the domain, so money never goes through float
arithmetic on its way to the text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from html import escape

from markupsafe import Markup

from tables.money import to_decimal
from tables.reports import Chart, Series
from web.formatting import BYTE_UNITS, byte_unit

PALETTE = ("#0b5cad", "#e07b00", "#2e8540", "#b3261e", "#6b4fbb", "#008c95", "#8a6d3b")
WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 34, 56


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def _number(value: float) -> str:
    text = f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:,.1f}"
    return text.replace(",", "\u00a0").replace(".", ",")


def _frame(title: str, body: list[str], legend: Sequence[Series], description: str = "") -> Markup:
    items = []
    x = LEFT
    for i, s in enumerate(legend if len(legend) > 1 else ()):
        items.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{x + 14}" y="{HEIGHT - 5}" font-size="11">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    svg = (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
           f'font-family="system-ui, sans-serif"><title>{escape(title)}</title>'
           + (f"<desc>{escape(description)}</desc>" if description else "") +
           f'<text x="{LEFT}" y="16" font-size="14" font-weight="600" fill="#1d2433">{escape(title)}</text>'
           + "".join(body) + "".join(items) + "</svg>")
    return Markup(svg)


def _axes(top_value: float, low_value: float, fmt: Callable[[float], str]) -> tuple[list[str], Callable]:
    plot_h = HEIGHT - TOP - BOTTOM
    span = top_value - low_value

    def y(v: float) -> float:
        return TOP + plot_h * (top_value - v) / span

    parts = []
    for i in range(5):
        v = low_value + span * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                     f'stroke="#e1e6ee"/>'
                     f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#5b6577">{escape(fmt(v))}</text>')
    return parts, y


def _x_labels(labels: Sequence[str], x_of: Callable[[int], float]) -> list[str]:
    every = max(1, -(-len(labels) // 16))
    return [f'<text x="{x_of(i):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" '
            f'text-anchor="middle" fill="#1d2433">{escape(label)}</text>'
            for i, label in enumerate(labels) if i % every == 0]


def _plotted(series: Sequence[Series], stacked: bool) -> list[float]:
    """What the axis must hold: every value, or every stack's height."""
    if not stacked:
        return [float(v) for s in series for v in s.values if v is not None] or [0.0]
    n = max((len(s.values) for s in series), default=0)
    return [sum(float(s.values[i] or 0) for s in series) for i in range(n)] or [0.0]


def _bounds(series: Sequence[Series], stacked: bool) -> tuple[float, float]:
    values = _plotted(series, stacked)
    high, low = max(values), min(values)
    top = _nice_max(high) if high > 0 else 0.0
    if top and all(float(v).is_integer() for v in values) and top % 4:
        top = float(int(top) + 4 - int(top) % 4)  # whole-number ticks for counts
    bottom = -_nice_max(-low) if low < 0 else 0.0
    if top == bottom:
        top = 1.0
    return top, bottom


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], *,
              stacked: bool = False, fmt: Callable[[float], str] = _number,
              description: str = "") -> Markup:
    """Vertical bars per label; several series side by side or stacked."""
    top, bottom = _bounds(series, stacked)
    body, y = _axes(top, bottom, fmt)
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / max(len(labels), 1)
    groups = 1 if stacked else max(len(series), 1)
    bar_w = max(1.0, slot * 0.8 / groups)
    for i, label in enumerate(labels):
        base = 0.0
        for k, s in enumerate(series):
            value = float(s.values[i] or 0) if i < len(s.values) else 0.0
            start, end = (base, base + value) if stacked else (0.0, value)
            if stacked:
                base += value
            x = LEFT + slot * i + slot * 0.1 + (0 if stacked else bar_w * k)
            y1, y2 = sorted((y(start), y(end)))
            body.append(f'<rect x="{x:.1f}" y="{y1:.1f}" width="{bar_w:.1f}" '
                        f'height="{max(y2 - y1, 0):.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                        f'<title>{escape(label)}: {escape(s.name)} — {escape(fmt(value))}</title></rect>')
    body.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#5b6577"/>')
    body += _x_labels(labels, lambda i: LEFT + slot * (i + 0.5))
    return _frame(title, body, series, description)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *,
               fmt: Callable[[float], str] = _number, description: str = "") -> Markup:
    """Lines with dots; a missing value breaks the line."""
    top, bottom = _bounds(series, False)
    body, y = _axes(top, bottom, fmt)
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / max(len(labels) - 1, 1)

    def x_of(i: int) -> float:
        return LEFT + step * i if len(labels) > 1 else LEFT + plot_w / 2

    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        segment: list[str] = []
        for i, v in enumerate(s.values):
            if v is None:
                if len(segment) > 1:
                    body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                                f'points="{" ".join(segment)}"/>')
                segment = []
                continue
            point = f"{x_of(i):.1f},{y(float(v)):.1f}"
            segment.append(point)
            body.append(f'<circle cx="{x_of(i):.1f}" cy="{y(float(v)):.1f}" r="3" fill="{colour}">'
                        f'<title>{escape(labels[i])}: {escape(fmt(float(v)))}</title></circle>')
        if len(segment) > 1:
            body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                        f'points="{" ".join(segment)}"/>')
    body += _x_labels(labels, x_of)
    return _frame(title, body, series, description)


def _roubles(kopecks: int | Decimal | None) -> float | None:
    return None if kopecks is None else float(to_decimal(kopecks))


def _rub_axis(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u00a0") + "\u00a0₽"


def _in_bytes(series: Sequence[Series]) -> tuple[list[Series], Callable[[float], str]]:
    """Bytes in the one unit the largest value reads best in (the axis needs one unit), at least
    МБ: an axis of "0,2 Б" steps means nothing to anyone."""
    peak = max((float(v) for s in series for v in s.values if v is not None), default=0.0)
    unit = max(byte_unit(peak), BYTE_UNITS.index("МБ"))
    scale = 1024 ** unit
    scaled = [Series(s.name, [None if v is None else float(v) / scale for v in s.values])
              for s in series]
    return scaled, lambda value: f"{_number(value)}\u00a0{BYTE_UNITS[unit]}"


def draw(chart: Chart) -> Markup:
    """A chart as inline SVG (money in roubles, its axis in ₽; bytes in МБ or ГБ)."""
    series, fmt = chart.series, _number
    if chart.money:
        series = [Series(s.name, [_roubles(v) for v in s.values]) for s in series]
        fmt = _rub_axis
    elif chart.unit == "bytes":
        series, fmt = _in_bytes(series)
    if chart.kind == "line":
        return line_chart(chart.title, chart.labels, series, fmt=fmt, description=chart.description)
    return bar_chart(chart.title, chart.labels, series, stacked=chart.stacked, fmt=fmt,
                     description=chart.description)
