"""Reports drawn with matplotlib, as PNG or SVG bytes.

matplotlib is an optional dependency (``pip install 'dirac-core[accounting]'``), imported on the
first plot: a missing one is a :class:`~dirac_core.errors.PluginUnavailable` naming the extra.
No pyplot: each plot is its own :class:`~matplotlib.figure.Figure` rendered by the Agg (PNG) or
SVG canvas, so nothing needs a display, nothing global changes, and threads may plot at once.
SVG text stays text (``svg.fonttype = none``): smaller files that a browser can search.

Stacked bars and lines show the largest keys (:data:`MAX_SERIES` - 1 of them) and sum the rest
as ``other``; byte measures are scaled to kB, MB, GB, ... so that the axis reads well.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dirac_core.accounting.bins import TimeBin, bin_number, bin_seconds
from dirac_core.accounting.query import InvalidReport
from dirac_core.accounting.reports import Chart, Report
from dirac_core.errors import PluginUnavailable

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["FORMATS", "MAX_SERIES", "render"]

#: The image formats :func:`render` writes, and their media types.
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
#: Most keys drawn; the smallest ones beyond are drawn as one "other".
MAX_SERIES = 12
_PREFIXES = ("", "k", "M", "G", "T", "P", "E")
#: units of things counted: whole numbers on the axis
_COUNTED = frozenset({"jobs", "pilots", "operations", "files"})


def _figure() -> Figure:
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415  (optional: imported on first plot)
    except ModuleNotFoundError as exc:
        raise PluginUnavailable("accounting plots", "matplotlib", "accounting", "matplotlib") from exc
    return Figure(figsize=(10, 5.6), dpi=100, layout="constrained")


def _scale(unit: str, largest: float) -> tuple[float, str]:
    """A divisor and the unit to show, for byte units (1000-based: ``MB``, ``GB/s``)."""
    if not unit.startswith("bytes"):
        return 1.0, unit
    power = 0
    while largest >= 1000 ** (power + 1) and power < len(_PREFIXES) - 1:
        power += 1
    rest = unit.removeprefix("bytes")
    return float(1000 ** power), f"{_PREFIXES[power]}B{rest}"


def _grouped(report: Report) -> tuple[list[str], dict[str, list[float]]]:
    data = report.data
    keys = list(data.keys)
    if len(keys) <= MAX_SERIES:
        return keys, {k: list(data.series[k]) for k in keys}
    shown, rest = keys[:MAX_SERIES - 1], keys[MAX_SERIES - 1:]
    series = {k: list(data.series[k]) for k in shown}
    series["other"] = [sum(data.series[k][i] for k in rest) for i in range(len(data.bins))]
    return [*shown, "other"], series


def _subtitle(report: Report) -> str:
    data = report.data
    period = f"{data.since:%Y-%m-%d %H:%M} to {data.until:%Y-%m-%d %H:%M} UTC"
    return f"{period}, by {data.width}" if data.width is not None else period


def _colors(count: int) -> list[Any]:
    from matplotlib import colormaps  # noqa: PLC0415  (see _figure)

    size = 10 if count <= 10 else 20  # tab10's colours differ more; tab20 pairs dark and light
    palette = colormaps[f"tab{size}"]
    return [palette(i % size) for i in range(count)]


def _time_series(ax: Axes, report: Report) -> str:
    """Stacked bars or lines over the bins; the y axis label."""
    from matplotlib import dates, ticker  # noqa: PLC0415  (see _figure)

    data = report.data
    keys, series = _grouped(report)
    largest = max((sum(series[k][i] for k in keys) if report.chart is Chart.BARS
                   else max(series[k][i] for k in keys)) for i in range(len(data.bins))) if keys else 0.0
    divisor, unit = _scale(data.unit, largest)
    width = data.width or TimeBin.DAY
    x = [dates.date2num(start) for start in data.bins]
    colors = _colors(len(keys))
    if report.chart is Chart.BARS:
        widths = [0.85 * bin_seconds(_number_of(report, i), width) / 86_400 for i in range(len(x))]
        bottom = [0.0] * len(x)
        for key, color in zip(keys, colors, strict=True):
            values = [v / divisor for v in series[key]]
            ax.bar(x, values, width=widths, bottom=bottom, align="edge", label=key, color=color)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    else:
        middle = [xi + bin_seconds(_number_of(report, i), width) / 86_400 / 2 for i, xi in enumerate(x)]
        for key, color in zip(keys, colors, strict=True):
            ax.plot(middle, [v / divisor for v in series[key]], marker="o", markersize=3, label=key,
                    color=color)
    locator = dates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")
    ax.set_ylim(bottom=0)
    if unit in _COUNTED:
        ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.grid(axis="y", alpha=0.3)
    if keys:
        ax.legend(title=data.group_by, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return unit


def _number_of(report: Report, index: int) -> int:
    return bin_number(report.data.bins[index], report.data.width or TimeBin.DAY)


def _pie(ax: Axes, report: Report) -> None:
    data = report.data
    keys = list(data.keys)
    values = [data.totals[k] for k in keys]
    if len(keys) > MAX_SERIES:
        keys = [*keys[:MAX_SERIES - 1], "other"]
        values = [*values[:MAX_SERIES - 1], sum(values[MAX_SERIES - 1:])]
    ax.pie(values, labels=keys, colors=_colors(len(keys)), autopct="%1.1f%%", startangle=90,
           counterclock=False, wedgeprops={"linewidth": 1, "edgecolor": "white"})
    ax.set_aspect("equal")


def render(report: Report, fmt: str = "png") -> bytes:
    """``report`` drawn as ``fmt`` (``png`` or ``svg``): the file's bytes.

    Raises :class:`InvalidReport` for another format and :class:`PluginUnavailable` without
    matplotlib.
    """
    if fmt not in FORMATS:
        raise InvalidReport(f"unknown image format {fmt!r}; expected one of {', '.join(FORMATS)}")
    figure = _figure()
    ax = figure.add_subplot()
    figure.suptitle(report.title, fontweight="bold")
    ax.set_title(_subtitle(report), fontsize="small")
    data = report.data
    if not data.keys:
        ax.text(0.5, 0.5, "no records in this period", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    elif report.chart is Chart.PIE or data.width is None:
        _pie(ax, report)
    else:
        ax.set_ylabel(_time_series(ax, report))
    return _save(figure, fmt, report, keys=data.keys)


def _save(figure: Figure, fmt: str, report: Report, *, keys: Sequence[str]) -> bytes:
    from matplotlib import rc_context  # noqa: PLC0415  (see _figure)

    buffer = io.BytesIO()
    # PNG text chunks name what the picture shows (a PNG's drawn text cannot be read back)
    metadata = ({"Title": report.title, "Description": f"{report.kind}: {', '.join(keys)}",
                 "Software": "dirac-core"} if fmt == "png" else {"Title": report.title})
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "dirac-core"}):
        figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()
