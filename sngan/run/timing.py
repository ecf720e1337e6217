"""The training clock as the run logs it: `time/sec_per_100_G_updates` at each log step, the seconds per 100 G
updates of the window since the previous log step (bookkeeping, metrics and checkpoints left out). Read back by
`sngan bench` (its timed windows) and `sngan report` (seconds per update, hours of training, the threads they ran on)."""
from __future__ import annotations

TIME_TAG = "time/sec_per_100_G_updates"
THREADS_TAG = "time/cpu_threads"  # torch's CPU threads at each log step of a CPU run: what its clock ran on


def cpu_threads(rows: list[dict]) -> int | None:
    """The CPU threads a run last logged (None: a GPU run, or one logged before the tag existed)."""
    values = [r["value"] for r in rows if r["tag"] == THREADS_TAG]
    return int(values[-1]) if values else None


def windows(rows: list[dict]) -> list[tuple[int, int, float]]:
    """(first step, G updates, sec per 100) of each logged window, in step order, from scalars.jsonl rows."""
    points = sorted((r["step"], r["value"]) for r in rows if r["tag"] == TIME_TAG)
    out, previous = [], 0
    for step, value in points:
        if step > previous:
            out.append((previous, step - previous, value))
        previous = step
    return out


def sec_per_100(rows: list[dict], after_step: int | None = None) -> float | None:
    """Length-weighted seconds per 100 G updates over the windows starting at or after `after_step` (a warm-up left
    out; None: the first window is the warm-up, when there are others), or None when there is none."""
    spans = windows(rows)
    if after_step is None:
        after_step = spans[1][0] if len(spans) > 1 else 0
    kept = [(n, value) for start, n, value in spans if start >= after_step]
    steps = sum(n for n, _ in kept)
    return 100.0 * sum(value * n / 100.0 for n, value in kept) / steps if steps else None


def train_seconds(rows: list[dict]) -> float:
    """Seconds of G and D updates over every logged window (warm-up included)."""
    return sum(value * n / 100.0 for _, n, value in windows(rows))
