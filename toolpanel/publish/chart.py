"""The tool page's chart: mean score and panel ship % over runs, as inline SVG."""

from __future__ import annotations

from toolpanel import scorecard
from toolpanel.publish.data import ToolPage

# The two series: CSS class, what is drawn, how. The page shows this legend as text beside the chart
# (tool.html.j2); the SVG's <title> says the same for assistive technology.
LEGEND = (("score", "Mean score", "solid line"), ("ship", "Panel ship %", "dashed line"))
TITLE = "Mean score (solid) and panel ship % (dashed) over reviews"


def chart_svg(page: ToolPage) -> str:
    """Inline SVG of mean score and panel ship % over runs (numbers only: nothing to escape)."""
    pts = page.history
    w, h, pad = 560, 180, 32
    n = len(pts)
    xs = [pad + (w - 2 * pad) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]

    def y(v: float) -> float:
        return h - pad - (h - 2 * pad) * (v / 100)

    def series(values, cls):
        coords = [(x, y(v)) for x, v in zip(xs, values) if v is not None]
        line = (f'<polyline class="{cls}" points="{" ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords)}"/>'
                if len(coords) > 1 else "")
        dots = "".join(f'<circle class="dot-{cls}" cx="{x:.1f}" cy="{yy:.1f}" r="3.5"/>' for x, yy in coords)
        return line + dots

    last = pts[-1]
    desc = (f"{n} verdict{'s' if n != 1 else ''}; latest mean score "
            f"{'n/a' if last.mean_score is None else f'{last.mean_score:g}'}, panel ship {scorecard.pct(last.ship_pct)}")
    grid = "".join(f'<line class="axis" x1="{pad}" x2="{w - pad}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                   f'<text x="4" y="{y(v) + 4:.1f}">{v}</text>' for v in (0, 50, 100))
    return (f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="chart-title chart-desc" '
            f'xmlns="http://www.w3.org/2000/svg"><title id="chart-title">{TITLE}</title>'
            f'<desc id="chart-desc">{desc}</desc>{grid}'
            f'{series([p.mean_score for p in pts], "score")}{series([p.ship_pct for p in pts], "ship")}</svg>')
