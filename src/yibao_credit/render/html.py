"""One self-contained HTML file: inline style, inline SVG charts, nothing fetched.

Government intranets are offline, so a report names no script, stylesheet, font or image
outside itself: no ``<script>``, no ``src=``, no ``href=`` but in-page anchors, no URL at all
(inline SVG in HTML needs no ``xmlns``). Chinese renders with whatever CJK font the reader's
system has, through a generic ``font-family`` stack (no webfont). Output is deterministic: the
same input gives the same bytes (no timestamps, coordinates printed to one decimal).

The functions here know nothing of packs or results (``render.analysis`` builds the analysis
report from them; ``compare --html`` its migration matrix): text in, markup out.
"""

from __future__ import annotations

import html
import math
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal

FONT_STACK = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", '
    '"Microsoft YaHei", "WenQuanYi Micro Hei", "Droid Sans Fallback", sans-serif'
)
"""Fonts the reader's system may have, then the generic family: nothing is downloaded."""

STYLE = f"""
body {{ font-family: {FONT_STACK}; color: #1a1a1a; background: #fff; margin: 0; }}
main {{ max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; }}
h1 {{ font-size: 24px; margin: 0 0 12px; }}
h2 {{ font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px;
  border-bottom: 2px solid #d0d7de; }}
h3 {{ font-size: 15px; margin: 20px 0 8px; }}
p, li {{ font-size: 14px; line-height: 1.6; }}
nav ol {{ columns: 2; font-size: 14px; margin: 0 0 8px; }}
nav a {{ color: #0b5cad; text-decoration: none; }}
table {{ border-collapse: collapse; font-size: 13px; margin: 6px 0 14px; }}
caption {{ text-align: left; font-weight: bold; padding: 4px 0; }}
div.scroll {{ overflow-x: auto; max-width: 100%; }}
th, td {{ border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top;
  white-space: nowrap; }}
th {{ background: #f3f5f7; font-weight: 600; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
dl.identity {{ display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px;
  font-size: 14px; }}
dl.identity dt {{ font-weight: 600; }}
dl.identity dd {{ margin: 0; overflow-wrap: anywhere; }}
code {{ font-family: "Noto Sans Mono CJK SC", "DejaVu Sans Mono", monospace; font-size: 13px; }}
.note {{ color: #444; font-size: 13px; }}
figure {{ margin: 8px 0 18px; }}
svg text {{ font-family: {FONT_STACK}; fill: #1a1a1a; }}
svg .axis {{ stroke: #6e7781; stroke-width: 1; }}
svg .grid {{ stroke: #d0d7de; stroke-width: 1; }}
svg .mark {{ stroke: #cf222e; stroke-width: 1; stroke-dasharray: 4 3; }}
svg .diagonal {{ fill: none; stroke: #1a1a1a; stroke-width: 2; }}
@media print {{ nav {{ display: none; }} h2 {{ break-after: avoid; }}
  figure, table {{ break-inside: avoid; }} }}
""".strip()

WORDS = {
    "zh": {
        "contents": "目录",
        "before": "上一周期",
        "after": "本周期",
        "count": "数量",
        "subjects": "评价对象数",
        "none": "无",
    },
    "en": {
        "contents": "Contents",
        "before": "before",
        "after": "after",
        "count": "count",
        "subjects": "subjects",
        "none": "none",
    },
}

PALETTE = ("#1a7f37", "#4ac26b", "#d4a72c", "#fb8f44", "#cf222e")
"""Green (best) to red (worst): a pack's grades come best first, and however many there are,
the first is green and the last red."""

MUTED = ("#8c959f", "#6e7781", "#afb8c1", "#57606a", "#d0d7de", "#7d8fa9", "#a5b4c8", "#4b5563")
"""Colours of series that are not grades (``excluded:…``)."""


def escape(text: str) -> str:
    """Text as HTML text or an attribute value: ``& < > " '`` escaped."""
    return html.escape(text, quote=True)


def _lang_attr(lang: str) -> str:
    return "zh-CN" if lang == "zh" else "en"


def _words(lang: str) -> dict[str, str]:
    return WORDS["en" if lang == "en" else "zh"]


def html_page(title: str, sections: Sequence[tuple[str, str]], lang: str = "zh") -> str:
    """A whole page: the title, a table of contents, then each (heading, inner HTML) as a
    ``<section>`` with an in-page anchor. ``inner`` is markup, already escaped."""
    nav = "".join(
        f'<li><a href="#s{i}">{escape(heading)}</a></li>'
        for i, (heading, _) in enumerate(sections, 1)
    )
    body = "\n".join(
        f'<section id="s{i}">\n<h2>{escape(heading)}</h2>\n{inner}\n</section>'
        for i, (heading, inner) in enumerate(sections, 1)
    )
    contents = _words(lang)["contents"]
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_lang_attr(lang)}">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>\n{STYLE}\n</style>\n"
        "</head>\n"
        "<body>\n<main>\n"
        f"<h1>{escape(title)}</h1>\n"
        + (f'<nav aria-label="{escape(contents)}"><ol>{nav}</ol></nav>\n' if sections else "")
        + f"{body}\n"
        "</main>\n</body>\n</html>\n"
    )


def table_html(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: Collection[int] = (),
    caption: str | None = None,
) -> str:
    """A table of text cells (escaped here); the columns in ``numeric`` aligned right. Cells
    do not wrap: a table wider than the page scrolls sideways in its own box."""

    def cls(i: int) -> str:
        return ' class="num"' if i in numeric else ""

    head = "".join(f"<th{cls(i)}>{escape(h)}</th>" for i, h in enumerate(header))
    body = "\n".join(
        "<tr>" + "".join(f"<td{cls(i)}>{escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n'
        "</tbody></table></div>"
    )


def _n(x: float) -> str:
    """A coordinate, to one decimal: the same bytes on every platform."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text_width(text: str, size: float) -> float:
    """The width a label takes, estimated (no font is measured): CJK full width, the rest
    about 0.6 em."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in text)


def _cut(text: str, size: float, limit: float) -> str:
    if _text_width(text, size) <= limit:
        return text
    out = ""
    for ch in text:
        if _text_width(out + ch + "…", size) > limit:
            break
        out += ch
    return out + "…"


def _ramp(t: float) -> str:
    """The colour at ``t`` (0 to 1) along ``PALETTE``, interpolated between its stops."""
    stops = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in PALETTE]
    x = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    k = min(int(x), len(stops) - 2)
    f = x - k
    r, g, b = (round(a + (z - a) * f) for a, z in zip(stops[k], stops[k + 1], strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def series_colours(series: Sequence[str]) -> dict[str, str]:
    """A colour per series, in order, spread from green to red over the series that are not
    ``excluded:…`` (those in greys): each a different colour, however many there are."""
    main = [s for s in series if not s.startswith("excluded:")]
    out: dict[str, str] = {}
    for i, s in enumerate(main):
        out[s] = _ramp(i / (len(main) - 1)) if len(main) > 1 else PALETTE[0]
    muted = [s for s in series if s.startswith("excluded:")]
    for i, s in enumerate(muted):
        out[s] = MUTED[i % len(MUTED)]
    return {s: out[s] for s in series}


def _svg_open(width: float, height: float, label: str) -> str:
    return (
        f'<svg width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
    )


def bar_svg(
    rows: Sequence[str],
    series: Sequence[str],
    counts: Mapping[tuple[str, str], int],
    title: str = "",
    lang: str = "zh",
    colours: Mapping[str, str] | None = None,
) -> str:
    """Horizontal stacked bars: one bar per row (a region, say), one segment per series (a
    grade) with a count above 0, each segment a ``<rect class="bar">`` with its count as a
    tooltip and, where it fits, written in it; a legend of the series below."""
    colour = dict(colours) if colours is not None else series_colours(series)
    size = 12.0
    label_w = min(220.0, max([_text_width(r, size) for r in rows] + [40.0]) + 12)
    totals = {r: sum(counts.get((r, s), 0) for s in series) for r in rows}
    most = max(totals.values(), default=0) or 1
    plot_w = 640.0
    total_w = 48.0
    bar_h, gap, top = 20.0, 6.0, 8.0
    width = label_w + plot_w + total_w
    legend_y = top + len(rows) * (bar_h + gap) + 10
    legend_rows = _legend_layout(series, size, width)
    height = legend_y + len(legend_rows) * 20 + 8
    parts = [_svg_open(width, height, title or _words(lang)["count"])]
    x0 = label_w
    parts.append(
        f'<line class="axis" x1="{_n(x0)}" y1="{_n(top - 4)}" x2="{_n(x0)}" '
        f'y2="{_n(legend_y - 6)}"/>'
    )
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        parts.append(
            f'<text x="{_n(label_w - 8)}" y="{_n(y + bar_h * 0.72)}" text-anchor="end" '
            f'font-size="{_n(size)}">{escape(_cut(r, size, label_w - 12))}</text>'
        )
        x = x0
        for s in series:
            c = counts.get((r, s), 0)
            if c <= 0:
                continue
            w = plot_w * c / most
            parts.append(
                f'<rect class="bar" x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" '
                f'height="{_n(bar_h)}" fill="{colour[s]}" data-row="{escape(r)}" '
                f'data-series="{escape(s)}" data-count="{c}">'
                f"<title>{escape(f'{r} · {s}: {c}')}</title></rect>"
            )
            text = str(c)
            if _text_width(text, 11) + 4 <= w:
                parts.append(
                    f'<text x="{_n(x + w / 2)}" y="{_n(y + bar_h * 0.7)}" text-anchor="middle" '
                    f'font-size="11" style="fill:#fff">{text}</text>'
                )
            x += w
        parts.append(
            f'<text x="{_n(x + 6)}" y="{_n(y + bar_h * 0.72)}" font-size="{_n(size)}">'
            f"{totals[r]}</text>"
        )
    parts.extend(_legend(legend_rows, colour, legend_y, size))
    parts.append("</svg>")
    return "".join(parts)


def _legend_layout(series: Sequence[str], size: float, width: float) -> list[list[str]]:
    rows: list[list[str]] = [[]]
    used = 0.0
    for s in series:
        w = 18 + _text_width(s, size) + 16
        if rows[-1] and used + w > width:
            rows.append([])
            used = 0.0
        rows[-1].append(s)
        used += w
    return rows if rows[0] else []


def _legend(rows: list[list[str]], colour: Mapping[str, str], y0: float, size: float) -> list[str]:
    out: list[str] = []
    for j, row in enumerate(rows):
        x = 8.0
        y = y0 + j * 20
        for s in row:
            out.append(
                f'<rect class="swatch" x="{_n(x)}" y="{_n(y)}" width="12" height="12" '
                f'fill="{colour[s]}"/>'
            )
            out.append(
                f'<text x="{_n(x + 16)}" y="{_n(y + 10.5)}" font-size="{_n(size)}">'
                f"{escape(s)}</text>"
            )
            x += 18 + _text_width(s, size) + 16
    return out


def histogram_bins(
    values: Sequence[Decimal | float], low: float, high: float, width: float
) -> list[tuple[float, float, int]]:
    """(from, to, count) of each bin ``[from, to)`` from ``low`` to ``high``; the last bin
    includes ``high`` (a score of 100 is in the bin 95–100). A value outside is left out of
    every bin — the caller gives a range that holds them all."""
    if not width > 0 or not high > low:
        raise ValueError(f"histogram: width {width} and range {low}..{high} give no bins")
    n = max(1, math.ceil((high - low) / width - 1e-9))
    counts = [0] * n
    for v in values:
        x = float(v)
        if x < low or x > high:
            continue
        i = min(n - 1, int((x - low) // width))
        counts[i] += 1
    return [(low + i * width, min(high, low + (i + 1) * width), c) for i, c in enumerate(counts)]


def histogram_svg(
    values: Sequence[Decimal | float],
    low: float,
    high: float,
    width: float,
    title: str = "",
    lang: str = "zh",
    marks: Sequence[tuple[float, str]] = (),
) -> str:
    """A histogram of ``values`` in bins of ``width`` from ``low`` to ``high``: one
    ``<rect class="bar">`` per bin that holds a value (its range and count as a tooltip),
    the count above it; ``marks`` (a band's lower edge and its grade, say) as dashed lines."""
    bins = histogram_bins(values, low, high, width)
    most = max((c for _, _, c in bins), default=0) or 1
    left, right, top, bottom = 40.0, 16.0, 22.0, 30.0
    plot_w, plot_h = 820.0, 200.0
    w_total = left + plot_w + right
    h_total = top + plot_h + bottom
    parts = [_svg_open(w_total, h_total, title or _words(lang)["count"])]
    scale = plot_w / (high - low)

    def x_of(v: float) -> float:
        return left + (v - low) * scale

    base = top + plot_h
    tick_step = max(1, math.ceil(most / 4))  # whole counts on the axis
    most = tick_step * math.ceil(most / tick_step)
    for k in range(0, most + 1, tick_step):
        y = base - plot_h * k / most
        parts.append(
            f'<line class="grid" x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" '
            f'y2="{_n(y)}"/>'
        )
        parts.append(
            f'<text x="{_n(left - 6)}" y="{_n(y + 4)}" text-anchor="end" font-size="11">{k}</text>'
        )
    for a, b, c in bins:
        if c == 0:
            continue
        h = plot_h * c / most
        x, w = x_of(a), (b - a) * scale
        tip = f"[{_n(a)}, {_n(b)}{']' if b >= high else ')'}: {c}"
        parts.append(
            f'<rect class="bar" x="{_n(x + 1)}" y="{_n(base - h)}" width="{_n(max(w - 2, 1))}" '
            f'height="{_n(h)}" fill="#0969da" data-from="{_n(a)}" data-to="{_n(b)}" '
            f'data-count="{c}"><title>{escape(tip)}</title></rect>'
        )
        parts.append(
            f'<text x="{_n(x + w / 2)}" y="{_n(base - h - 4)}" text-anchor="middle" '
            f'font-size="11">{c}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{_n(left)}" y1="{_n(base)}" x2="{_n(left + plot_w)}" '
        f'y2="{_n(base)}"/>'
    )
    step = width * max(1, math.ceil(len(bins) / 10))  # at most about ten labels
    for k in range(int((high - low) / step + 1e-9) + 1):
        tick = low + k * step
        parts.append(
            f'<text x="{_n(x_of(tick))}" y="{_n(base + 16)}" text-anchor="middle" '
            f'font-size="11">{_n(tick)}</text>'
        )
    for value, label in marks:
        if low <= value <= high:
            x = x_of(value)
            parts.append(
                f'<line class="mark" x1="{_n(x)}" y1="{_n(top - 6)}" x2="{_n(x)}" y2="{_n(base)}"/>'
            )
            parts.append(
                f'<text x="{_n(x + 3)}" y="{_n(top - 9)}" font-size="11" '
                f'style="fill:#cf222e">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _shade(count: int, most: int) -> tuple[str, str]:
    """A cell's fill (white to dark blue by count) and a text colour that reads on it."""
    t = count / most if most else 0.0
    lo, hi = (247, 251, 255), (8, 48, 107)
    r, g, b = (round(a + (z - a) * t) for a, z in zip(lo, hi, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}", "#fff" if t > 0.5 else "#1a1a1a"


def migration_svg(
    old_grades: Sequence[str],
    new_grades: Sequence[str],
    counts: Mapping[tuple[str, str], int],
    lang: str = "zh",
) -> str:
    """The migration matrix as a heatmap: a row per earlier grade, a column per new grade,
    each cell a ``<rect class="cell">`` shaded by its count with the count written in it;
    the cells where the grade stayed the same (same label) outlined."""
    w = _words(lang)
    size = 12.0
    cell_w, cell_h = 64.0, 36.0
    row_label = max([_text_width(g, size) for g in old_grades] + [40.0]) + 14
    left = 24 + row_label
    top = 46.0
    width = left + cell_w * len(new_grades) + 16
    height = top + cell_h * len(old_grades) + 16
    label = f"{w['before']} → {w['after']}"
    parts = [_svg_open(width, height, label)]
    most = max(counts.values(), default=0)
    parts.append(
        f'<text x="{_n(left + cell_w * len(new_grades) / 2)}" y="14" text-anchor="middle" '
        f'font-size="{_n(size)}" font-weight="bold">{escape(w["after"])}</text>'
    )
    parts.append(
        f'<text x="12" y="{_n(top + cell_h * len(old_grades) / 2)}" text-anchor="middle" '
        f'font-size="{_n(size)}" font-weight="bold" '
        f'transform="rotate(-90 12 {_n(top + cell_h * len(old_grades) / 2)})">'
        f"{escape(w['before'])}</text>"
    )
    for j, g in enumerate(new_grades):
        parts.append(
            f'<text x="{_n(left + j * cell_w + cell_w / 2)}" y="{_n(top - 8)}" '
            f'text-anchor="middle" font-size="{_n(size)}">{escape(g)}</text>'
        )
    diagonal: list[str] = []
    for i, old in enumerate(old_grades):
        y = top + i * cell_h
        parts.append(
            f'<text x="{_n(left - 8)}" y="{_n(y + cell_h / 2 + 4)}" text-anchor="end" '
            f'font-size="{_n(size)}">{escape(old)}</text>'
        )
        for j, new in enumerate(new_grades):
            x = left + j * cell_w
            c = counts.get((old, new), 0)
            fill, ink = _shade(c, most)
            parts.append(
                f'<rect class="cell" x="{_n(x)}" y="{_n(y)}" width="{_n(cell_w)}" '
                f'height="{_n(cell_h)}" fill="{fill}" stroke="#d0d7de" data-from="{escape(old)}" '
                f'data-to="{escape(new)}" data-count="{c}">'
                f"<title>{escape(f'{old} → {new}: {c}')}</title></rect>"
            )
            parts.append(
                f'<text x="{_n(x + cell_w / 2)}" y="{_n(y + cell_h / 2 + 4)}" '
                f'text-anchor="middle" font-size="{_n(size)}" style="fill:{ink}">{c}</text>'
            )
            if old == new:
                diagonal.append(
                    f'<rect class="diagonal" x="{_n(x + 1)}" y="{_n(y + 1)}" '
                    f'width="{_n(cell_w - 2)}" height="{_n(cell_h - 2)}"/>'
                )
    parts.extend(diagonal)  # drawn last, so no neighbouring cell covers the outline
    parts.append("</svg>")
    return "".join(parts)
