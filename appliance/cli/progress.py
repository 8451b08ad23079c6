"""The one progress bar the commands draw on standard error: a line redrawn in place.

Standard error is looked up each time the bar is drawn, not bound when a command is
defined: a caller (or a test capturing output) may have replaced it since."""

import sys

WIDTH = 30


def draw(part, tail="", label=""):
    """The bar at `part` (0 to 1), `label` before it and `tail` after it."""
    part = min(max(part, 0.0), 1.0)
    head = f"{label:<16} " if label else ""
    sys.stderr.write(f"\r{head}[{'#' * int(part * WIDTH):<{WIDTH}}] {part:4.0%}  {tail}")
    sys.stderr.flush()


def counter(unit="", label="", every=1):
    """A `progress(done, total)` callback: the bar every `every` steps and at the end,
    with a new line once whole."""
    def show(done, total):
        if done % every and done < total:
            return
        draw(done / total if total else 1, f"{done}/{total} {unit}".rstrip(), label)
        if done >= total:
            sys.stderr.write("\n")
    return show


def stages(labels):
    """A `progress(stage, done, total)` callback for work in named stages (`labels`:
    stage → what the bar says)."""
    shown = {}

    def show(stage, done, total):
        if stage not in shown:
            shown[stage] = counter(label=labels.get(stage, stage))
        shown[stage](done, total)
    return show
