"""Charts of the per-cadre report: the key rate of each stage year over year (lines), and the
stages side by side, one bar per year (`tally.report.charts.grouped_bars`)."""

from __future__ import annotations

from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors

from forms.fonts import FONT_NAME, register_font
from tally.report.charts import GRID, INK, SERIES, Series, _legend, _title, percent_bars


def year_lines(years: list[int], series: list[Series], width: float, height: float, *,
               title: str = "") -> Drawing:
    """One line per series over `years` (values: fractions, None = no figure that year), with
    each point's % printed above it. A single year is drawn as points."""
    register_font()
    d = Drawing(width, height)
    top = 40 if title else 26
    if title:
        _title(d, title, width, height - 12)
    lp = LinePlot()
    lp.x, lp.y, lp.width, lp.height = 40, 28, width - 60, height - 28 - top
    lo, hi = min(years), max(years)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    lp.data = []
    drawn: list[Series] = []
    for s in series:
        points = [(y, 100 * v) for y, v in zip(years, s.values, strict=True) if v is not None]
        if points:
            lp.data.append(points)
            drawn.append(s)
    if not lp.data:
        d.add(String(width / 2, height / 2, "无数据", fontName=FONT_NAME, fontSize=9,
                     fillColor=INK, textAnchor="middle"))
        return d
    for i, s in enumerate(drawn):
        colour = colors.HexColor(s.colour)
        lp.lines[i].strokeColor = colour
        lp.lines[i].strokeWidth = 1.6
        lp.lines[i].symbol = makeMarker("FilledCircle", size=4.5, fillColor=colour,
                                        strokeColor=colour)
    lp.xValueAxis.valueMin, lp.xValueAxis.valueMax = lo - 0.3, hi + 0.3
    lp.xValueAxis.valueSteps = list(range(min(years), max(years) + 1))
    lp.xValueAxis.labelTextFormat = "%d年"
    lp.xValueAxis.labels.fontName = FONT_NAME
    lp.xValueAxis.labels.fontSize = 8
    lp.yValueAxis.valueMin, lp.yValueAxis.valueMax, lp.yValueAxis.valueStep = 0, 100, 20
    lp.yValueAxis.labelTextFormat = "%d%%"
    lp.yValueAxis.labels.fontName = FONT_NAME
    lp.yValueAxis.labels.fontSize = 7.5
    lp.yValueAxis.visibleGrid = True
    lp.yValueAxis.gridStrokeColor = GRID
    lp.lineLabelFormat = "%.1f%%"
    lp.lineLabels.fontName = FONT_NAME
    lp.lineLabels.fontSize = 7
    lp.lineLabels.dy = 5
    d.add(lp)
    _legend(d, drawn, 40, height - (20 if title else 4))
    return d


def stage_bars(stages: list[str], series: list[Series], width: float, height: float, *,
               title: str = "") -> Drawing:
    """Vertical bars: for each stage one bar per series (year); a missing figure (None) draws
    no bar and no label, so "no meeting that year" never reads as 0%."""
    register_font()
    d = Drawing(width, height)
    top = 40 if title else 26
    if title:
        _title(d, title, width, height - 12)
    ch = percent_bars([tuple(None if v is None else 100 * v for v in s.values) for s in series],
                      stages, [s.colour for s in series])
    ch.x, ch.y, ch.width, ch.height = 34, 34, width - 44, height - 34 - top
    ch.barSpacing, ch.groupSpacing, ch.barWidth = 1, 12, 10
    ch.barLabelFormat = "%.1f%%"
    ch.barLabels.fontName = FONT_NAME
    ch.barLabels.fontSize = 6.5
    ch.barLabels.nudge = 5
    d.add(ch)
    _legend(d, series, 34, height - (20 if title else 4))
    return d


def stage_colours(n: int) -> list[str]:
    return [SERIES[k % len(SERIES)] for k in range(n)]
