"""The comparison chart as SVG text: no matplotlib, no <style>, no style="" (CSP).

Bars: signed reviews per year (light) and reviews with at least one brist (dark), with the
numbers written out so the chart does not rely on colour alone.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from kontroll.reports.summary import YearPoint

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 40, 48
FONT = "DejaVu Sans, Arial, sans-serif"
REVIEWED = "#5b8db8"
DEVIATING = "#7a2a1d"


def _text(x: float, y: float, value: str, *, size: int = 12, anchor: str = "middle", fill: str = "#1a1a1a") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-family="{FONT}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}">{escape(value)}</text>')


def comparison_svg(points: list[YearPoint], title: str) -> str:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([p.reviewed for p in points] + [1])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="t">',
        f'<title id="t">{escape(title)}</title>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        _text(LEFT, 20, title, size=14, anchor="start"),
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#1a1a1a" stroke-width="1"/>',
    ]
    slot = plot_w / max(len(points), 1)
    bar = min(28.0, slot / 3)
    for i, p in enumerate(points):
        cx = LEFT + slot * i + slot / 2
        for value, colour, dx in ((p.reviewed, REVIEWED, -bar), (p.deviating, DEVIATING, 0.0)):
            h = plot_h * value / top
            y = TOP + plot_h - h
            parts.append(f'<rect x="{cx + dx:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}"/>')
            parts.append(_text(cx + dx + bar / 2, y - 4, str(value), size=11))
        parts.append(_text(cx, TOP + plot_h + 16, str(p.year)))
    ly = HEIGHT - 12
    parts.append(f'<rect x="{LEFT}" y="{ly - 10}" width="12" height="12" fill="{REVIEWED}"/>')
    parts.append(_text(LEFT + 18, ly, "Granskade ärenden", size=11, anchor="start"))
    parts.append(f'<rect x="{LEFT + 170}" y="{ly - 10}" width="12" height="12" fill="{DEVIATING}"/>')
    parts.append(_text(LEFT + 188, ly, "Ärenden med minst en brist", size=11, anchor="start"))
    parts.append("</svg>")
    return "\n".join(parts)
