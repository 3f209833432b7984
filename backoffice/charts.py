"""Bar charts drawn on the server as SVG geometry (no JavaScript, no inline styles: the template
writes the numbers below as SVG attributes and colours come from CSS classes).

A chart has one bar per category, with a second bar drawn in front of it: a value and a part
of it (90th percentile and median; letters sent and those without signature). The numbers are
always in a table beside the chart; the chart itself is hidden from assistive technology.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 480
HEIGHT = 220
LEFT = 44
RIGHT = 8
TOP = 26
BOTTOM = 40
MAX_LABELS = 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Column:
    label: str
    """Empty when there is no room to label every column."""
    sublabel: str
    x: float
    """The column's centre."""
    back: Bar | None
    front: Bar | None


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class BarChart:
    columns: list[Column]
    ticks: list[Tick]
    axis_label: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def label_y(self) -> int:
        return self.bottom + 16

    @property
    def sublabel_y(self) -> int:
        return self.bottom + 31


def nice_step(largest: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) that divides 0…largest in about `ticks`."""
    if largest <= 0:
        return 1.0
    rough = largest / ticks
    power = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 5, 10):
        if factor * power >= rough:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def bar_chart(
    labels: Sequence[tuple[str, str]],
    back: Sequence[float | None],
    front: Sequence[float | None],
    *,
    unit: float = 1.0,
    axis_label: str = "",
    tick_label: Callable[[float], str] | None = None,
) -> BarChart:
    """`labels`: (label, sublabel) per column; `back` and `front`: the values per column (None:
    no bar), drawn on a scale in `unit`s (e.g. 3600 for hours) with round ticks."""
    largest = max((v for v in (*back, *front) if v is not None), default=0.0) / unit
    step = nice_step(largest)
    top_value = max(step, math.ceil(largest / step) * step) if largest > 0 else step * 4
    chart = BarChart([], [], axis_label)
    plot_height = chart.bottom - chart.top
    plot_width = chart.right - chart.left
    count = max(len(labels), 1)
    slot = plot_width / count
    every = math.ceil(count / MAX_LABELS)

    def bar(value: float | None, width: float, centre: float) -> Bar | None:
        if value is None:
            return None
        height = plot_height * (value / unit) / top_value
        return Bar(
            round(centre - width / 2, 1),
            round(chart.bottom - height, 1),
            round(width, 1),
            round(height, 1),
        )

    back_width = min(slot * 0.7, 28.0)
    front_width = back_width * 0.55
    for index, (label, sublabel) in enumerate(labels):
        centre = chart.left + slot * (index + 0.5)
        shown = index % every == 0
        chart.columns.append(
            Column(
                label if shown else "",
                sublabel if shown or sublabel else "",
                round(centre, 1),
                bar(back[index], back_width, centre),
                bar(front[index], front_width, centre),
            )
        )
    steps = round(top_value / step)
    for n in range(steps + 1):
        value = n * step
        y = chart.bottom - plot_height * value / top_value
        text = tick_label(value) if tick_label else _plain(value)
        chart.ticks.append(Tick(round(y, 1), text))
    return chart


def _plain(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"
