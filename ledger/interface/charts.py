"""Charts as SVG drawn on the server with pygal (issue 19): no script, a title, and an
accessible name, for the page and the HTML report alike.

pygal writes its styles inside each SVG, keyed by a random id, and links a tooltip script.
The page's Content-Security-Policy allows neither inline styles nor scripts, so each chart
here leaves both out and carries the class ``chart``; ``STYLESHEET`` is pygal's own CSS for
that class, which the page serves as a file and the report writes into its head.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import cache

import pygal
from markupsafe import Markup, escape
from pygal.style import Style

COLOURS = ("#1f5f8b", "#8a3b12", "#2f6b2f", "#6b2f6b", "#5c5c00")
STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#595959",
    colors=COLOURS,
    font_family="system-ui, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=13,
    value_label_font_size=13,
    title_font_size=16,
)
_STYLE_ELEMENT = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_SCRIPT = re.compile(r"<script[^>]*>.*?</script>|<script[^>]*/>", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_CHART_ID = re.compile(r"#chart-[0-9a-f-]+")
_STYLE_ATTRIBUTE = re.compile(r' style="[^"]*"')
_ROOT = re.compile(
    r'<svg xmlns="http://www.w3.org/2000/svg" id="chart-[0-9a-f-]+" class="pygal-chart"'
)


def _bar(
    title: str, labels: Sequence[str], values: Sequence[float], shown: Sequence[str]
) -> pygal.HorizontalBar:
    chart = pygal.HorizontalBar(
        style=STYLE,
        js=[],
        disable_xml_declaration=True,
        explicit_size=False,
        show_legend=False,
        print_values=True,
        show_x_labels=False,  # the value axis (x, as pygal turns it): each bar writes its value
        show_x_guides=False,
        width=480,
        height=max(160, 48 * len(labels) + 80),
        title=title,
        truncate_label=-1,
        margin=8,
    )
    chart.x_labels = list(reversed(labels))  # pygal draws the first label at the bottom
    bars = [
        {"value": v, "formatter": lambda _v, t=t: t} for v, t in zip(values, shown, strict=True)
    ]
    chart.add(title, list(reversed(bars)))
    return chart


def bar_chart(
    title: str, labels: Sequence[str], values: Sequence[float], shown: Sequence[str] | None = None
) -> Markup:
    """A horizontal bar chart: one bar a label, its value written on it as ``shown`` says
    (the number itself by default); an ``<svg>`` with ``role="img"`` named by ``title`` (the
    title is also drawn above the bars)."""
    texts = [str(v) for v in values] if shown is None else shown
    svg = _bar(title, labels, values, texts).render(is_unicode=True)
    svg = _COMMENT.sub("", _SCRIPT.sub("", _STYLE_ELEMENT.sub("", svg)))
    svg = _STYLE_ATTRIBUTE.sub("", svg)  # the tooltips' (hidden below: no script shows them)
    root = (
        '<svg xmlns="http://www.w3.org/2000/svg" class="pygal-chart chart" role="img" '
        f'aria-label="{escape(title)}"'
    )
    return Markup(_ROOT.sub(root, svg, count=1))


@cache
def stylesheet() -> str:
    """pygal's CSS for every chart of ``bar_chart`` (its id selector made the class's)."""
    svg = _bar("", ["a"], [1], ["1"]).render(is_unicode=True)
    css = html.unescape("\n".join(_STYLE_ELEMENT.findall(svg)))  # as the SVG escaped it
    return (
        _CHART_ID.sub(".chart", css)
        + "\n.chart{display:block;width:100%;max-width:36rem;height:auto}"
        + ".chart .tooltip-overlay{display:none}\n"
    )
