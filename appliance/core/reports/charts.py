"""Charts as geometry: bars with their places and labels, which a template draws as
SVG on the server (no JavaScript; it prints). Only numbers here, no markup."""

from dataclasses import dataclass


@dataclass
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


def _top(values):
    """A round top for the scale: 1, 2 or 5 times a power of ten, at least the largest."""
    peak = max([v for v in values if isinstance(v, int)] + [1])
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= peak:
                return m * step
        step *= 10


def columns(series, width=640, height=220, margin=(30, 36, 10, 48)):
    """Vertical bars for [(label, value)]: {"bars", "ticks", "width", "height", "base"}.
    `margin`: top, bottom, right, left (room for the labels)."""
    top, bottom, right, left = margin
    inner_w, inner_h = width - left - right, height - top - bottom
    scale = _top([v for _, v in series])
    slot = inner_w / max(1, len(series))
    bars = []
    for n, (label, value) in enumerate(series):
        v = value if isinstance(value, int) else 0
        h = inner_h * v / scale
        bars.append(Bar(label, value, left + n * slot + slot * 0.15, top + inner_h - h,
                        slot * 0.7, h))
    ticks = [(scale * k // 4, top + inner_h - inner_h * k / 4) for k in range(5)]
    return {"bars": bars, "ticks": ticks, "width": width, "height": height,
            "base": top + inner_h, "left": left, "right": width - right}


def rows(series, width=640, row=22, label_width=220):
    """Horizontal bars for [(label, value)], one row each."""
    scale = _top([v for _, v in series])
    inner = width - label_width - 60
    bars = [Bar(label, value, label_width, 6 + n * row,
                inner * (value if isinstance(value, int) else 0) / scale, row - 6)
            for n, (label, value) in enumerate(series)]
    return {"bars": bars, "width": width, "height": 12 + row * max(1, len(series)),
            "label_width": label_width}
