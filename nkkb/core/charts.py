"""Charts drawn on the server as SVG: they need no script and no network."""

from collections.abc import Callable

PALETTE = (
    "#1b6ca8",
    "#2a9d8f",
    "#b08900",
    "#d9480f",
    "#c2255c",
    "#6741d9",
    "#495057",
    "#0b7285",
    "#5c940d",
    "#862e9c",
)
BAR_HEIGHT = 22
BAR_GAP = 10
LABEL_WIDTH = 180
WIDTH = 680


def stacked_bars(
    rows: list[tuple[str, str]],
    series: list[tuple[str, str]],
    counts: dict[tuple[str, str], int],
    segment_url: Callable[[str, str], str],
) -> dict:
    """Geometry of horizontal stacked bars: one bar per row, one segment per series.

    `rows` and `series` are (key, label) pairs; `counts` maps (row key, series key) to a count.
    """
    totals = {row: sum(counts.get((row, key), 0) for key, _ in series) for row, _ in rows}
    scale = (WIDTH - LABEL_WIDTH - 50) / max(max(totals.values(), default=0), 1)
    colors = dict(zip((key for key, _ in series), PALETTE, strict=False))
    bars = []
    for index, (row, row_label) in enumerate(rows):
        y = index * (BAR_HEIGHT + BAR_GAP)
        x = LABEL_WIDTH
        segments = []
        for key, label in series:
            count = counts.get((row, key), 0)
            if count:
                segments.append(
                    {
                        "x": x,
                        "width": count * scale,
                        "count": count,
                        "label": label,
                        "color": colors[key],
                        "url": segment_url(row, key),
                    }
                )
                x += count * scale
        bars.append(
            {
                "label": row_label,
                "y": y,
                "text_y": y + BAR_HEIGHT * 0.7,
                "total": totals[row],
                "end_x": x + 6,
                "segments": segments,
            }
        )
    return {
        "bars": bars,
        "legend": [{"label": label, "color": colors[key]} for key, label in series],
        "width": WIDTH,
        "height": len(rows) * (BAR_HEIGHT + BAR_GAP),
        "bar_height": BAR_HEIGHT,
        "label_width": LABEL_WIDTH,
    }
