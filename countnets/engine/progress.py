"""A run's progress displays: a tqdm bar on a terminal, plain lines on stderr for logs.

:func:`countnets.engine.driver.run_chunks` opens them with :func:`open_progress`; the
``progress`` setting (see :class:`countnets.engine.driver.RunConfig`) is read by
:func:`log_interval`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

from countnets._errors import check_finite_float
from countnets.defaults import DEFAULT_LOG_SECONDS

__all__ = ["DEFAULT_LOG_SECONDS", "log_interval", "ProgressLog", "bar_shape", "open_progress"]


def log_interval(progress: bool | float) -> float | None:
    """Seconds between progress lines for a ``progress`` setting (see :class:`RunConfig`); ``None``: no lines.

    Raises:
      CountnetsError: for anything but a bool or a number >= 0 (``math.inf``: never).

    >>> log_interval(True), log_interval(5), log_interval(False), log_interval(0), log_interval(math.inf)
    (30.0, 5.0, None, None, None)
    """
    if isinstance(progress, bool):
        return DEFAULT_LOG_SECONDS if progress else None
    if progress == math.inf:
        return None
    value = check_finite_float("progress", progress, non_negative=True)
    return value or None


class ProgressLog:
    """Progress as plain lines on stderr, for logs (stderr not a terminal): done, rate, ETA.

    ``update(done)`` prints ``countnets: DESCRIPTION: DONE of TOTAL UNIT (P%), R UNIT/s,
    ETA T`` once at least ``interval`` seconds have passed since the start or the last
    line; ``interval`` ``None`` prints nothing.
    """

    def __init__(self, description: str, unit: str, total: int, done: int, interval: float | None):
        self.description, self.unit, self.total, self.interval = description, unit, total, interval
        self.start = self.last = time.perf_counter()
        self.done_at_start = done

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if self.interval is None or now - self.last < self.interval:
            return
        self.last = now
        rate = (done - self.done_at_start) / max(now - self.start, 1e-9)
        eta = f"{(self.total - done) / rate:.0f} s" if rate > 0 else "unknown"
        share = 100 * done / self.total
        print(f"countnets: {self.description}: {done:,} of {self.total:,} {self.unit} ({share:.1f}%), "
              f"{rate:.3g} {self.unit}/s, ETA {eta}", file=sys.stderr, flush=True)  # fmt: skip


def bar_shape() -> dict[str, int | None]:
    """tqdm's ``ncols`` and ``nrows``: ``None`` (tqdm asks the terminal), or 80 x 20 where it reports 0.

    Some terminals (and pseudo-terminals of job schedulers) report a size of 0 x 0, or
    0 rows only; tqdm then draws a bar of width 0, or none at all, i.e. nothing.
    """
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return {"ncols": 80, "nrows": 20}
    return {"ncols": None if size.columns > 0 else 80, "nrows": None if size.lines > 0 else 20}


def open_progress(
    progress: bool | float, description: str, unit: str, total: int, done: int, *, lead: bool
) -> tuple[Any, ProgressLog | None]:
    """A run's ``(tqdm bar, ProgressLog or None)``: the bar where stderr is a terminal, else the log lines.

    Only the ``lead`` process (process 0) shows either; elsewhere the bar is disabled and
    there is no log. The bar starts at ``done`` of ``total`` and appears after 2 s.
    """
    from tqdm.auto import tqdm

    show = bool(progress) and sys.stderr.isatty() and lead
    log = ProgressLog(description, unit, total, done, log_interval(progress)) if lead and not show else None
    bar = tqdm(
        total=total, initial=done, unit="net", unit_scale=True, delay=2.0, disable=not show, desc=description,
        **bar_shape(),
    )  # fmt: skip
    return bar, log
