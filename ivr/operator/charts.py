"""Charts as inline SVG, drawn on the server: no JavaScript library, nothing fetched from elsewhere."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH = 720
BAR_HEIGHT = 22
GAP = 6


def _nice_max(value: float) -> float:
    """A round number at or above `value` for the axis (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def columns(series: Sequence[tuple[str, float]], *, title: str, height: int = 200, width: int = 960) -> Markup:
    """Vertical columns, one per label (e.g. reports per day), with a light grid."""
    if not series:
        return Markup("")
    left, bottom, top = 36, 28, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    top_value = max(_nice_max(max(value for _, value in series)), 2.0)  # whole numbers on the axis
    step = plot_w / len(series)
    bar_w = max(2.0, step * 0.7)
    label_every = max(1, math.ceil(len(series) / 15))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{_number(top_value * fraction)}</text>")
    for index, (label, value) in enumerate(series):
        bar_h = plot_h * value / top_value
        x = left + index * step + (step - bar_w) / 2
        y = top + plot_h - bar_h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}">'
            f"<title>{escape(label)}: {_number(value)}</title></rect>"
        )
        if index % label_every == 0:
            parts.append(f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{height - 8}" '
                         f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(
    series: Sequence[tuple[str, float]],
    *,
    title: str,
    value_label: Callable[[float], str] | None = None,
    label_width: int = 260,
    width: int = WIDTH,
) -> Markup:
    """Horizontal bars, one per label (e.g. reports per region), the value written beside each."""
    if not series:
        return Markup("")
    value_label = value_label or _number
    height = len(series) * (BAR_HEIGHT + GAP) + GAP
    plot_w = width - label_width - 70
    top_value = max(value for _, value in series) or 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for index, (label, value) in enumerate(series):
        y = GAP + index * (BAR_HEIGHT + GAP)
        bar_w = max(1.0, plot_w * value / top_value) if value else 0
        parts.append(f'<text class="label" x="{label_width - 8}" y="{y + BAR_HEIGHT * 0.7:.1f}" '
                     f'text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect class="bar" x="{label_width}" y="{y}" width="{bar_w:.1f}" height="{BAR_HEIGHT}">'
                     f"<title>{escape(label)}: {escape(value_label(value))}</title></rect>")
        parts.append(f'<text class="value" x="{label_width + bar_w + 6:.1f}" y="{y + BAR_HEIGHT * 0.7:.1f}">'
                     f"{escape(value_label(value))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
