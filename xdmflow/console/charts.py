"""Small SVG charts drawn here (no JavaScript, no third-party assets): bars and a line per run."""

from __future__ import annotations

from html import escape

__all__ = ["bars", "line"]

W, H, PAD = 640, 200, 32
COLORS = ("#2b6cb0", "#c53030")


def _frame(title: str, body: str, ymax: float) -> str:
    return (
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}" class="chart">'
        f"<title>{escape(title)}</title>"
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 8}" y2="{H - PAD}" class="axis"/>'
        f'<line x1="{PAD}" y1="8" x2="{PAD}" y2="{H - PAD}" class="axis"/>'
        f'<text x="4" y="16" class="tick">{ymax:g}</text><text x="4" y="{H - PAD}" class="tick">0</text>'
        f"{body}</svg>"
    )


def bars(points: list[tuple[str, list[float]]], series: list[str], title: str) -> str:
    """Grouped bars, one group per run (oldest left), one bar per series."""
    if not points:
        return f'<p class="muted">{escape(title)}: no runs yet.</p>'
    ymax = max([max(v) for _, v in points] + [1])
    slot = (W - PAD - 16) / len(points)
    bw = max(1.0, slot / (len(series) + 1))
    out = []
    for i, (label, values) in enumerate(points):
        for j, v in enumerate(values):
            h = (H - PAD - 16) * (v / ymax)
            x = PAD + 4 + i * slot + j * bw
            out.append(
                f'<rect x="{x:.1f}" y="{H - PAD - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                f'fill="{COLORS[j % 2]}"><title>{escape(label)} {escape(series[j])}: {v:g}</title></rect>'
            )
    legend = "".join(
        f'<rect x="{W - 150}" y="{10 + 14 * j}" width="10" height="10" fill="{COLORS[j % 2]}"/>'
        f'<text x="{W - 135}" y="{19 + 14 * j}" class="tick">{escape(s)}</text>'
        for j, s in enumerate(series)
    )
    return _frame(title, "".join(out) + legend, ymax)


def line(points: list[tuple[str, float]], title: str) -> str:
    """A polyline with a dot per run."""
    if not points:
        return f'<p class="muted">{escape(title)}: no runs yet.</p>'
    ymax = max([v for _, v in points] + [0.001])
    n = max(1, len(points) - 1)
    coords = []
    dots = []
    for i, (label, v) in enumerate(points):
        x = PAD + 4 + (W - PAD - 20) * (i / n if len(points) > 1 else 0.5)
        y = H - PAD - (H - PAD - 16) * (v / ymax)
        coords.append(f"{x:.1f},{y:.1f}")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[0]}">'
            f"<title>{escape(label)}: {v:g}</title></circle>"
        )
    poly = f'<polyline points="{" ".join(coords)}" fill="none" stroke="{COLORS[0]}" stroke-width="2"/>'
    return _frame(title, poly + "".join(dots), round(ymax, 3))
