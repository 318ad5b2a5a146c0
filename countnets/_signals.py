"""Graceful SIGINT/SIGTERM: the first signal sets a flag, a second stops at once (stdlib only).

This module imports nothing but the standard library, so the ``countnets`` entry point
(:mod:`countnets._entry`) can install the handler before JAX or anything heavy is
imported: an interrupt at any moment is then either a flag that the run reads after its
current step (exit code 3) or, the second time, a :class:`KeyboardInterrupt` (exit code
130). Without it, a Ctrl-C during the first second of start-up either became a
traceback or was swallowed inside a JAX garbage-collection callback.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["catch_signals", "interrupt_signal", "signal_count"]

_lock = threading.Lock()
_received: list[str] = []
_depth = 0  # nesting of catch_signals(): only the outermost installs, restores and clears


def interrupt_signal() -> str | None:
    """The name of the signal received inside :func:`catch_signals` (``"SIGTERM"``...), or ``None``."""
    return _received[0] if _received else None


def signal_count() -> int:
    """How many SIGINT/SIGTERM arrived inside :func:`catch_signals` (2 or more: stop at once)."""
    return len(_received)


def _handler(signum, frame):
    with _lock:
        first = not _received
        _received.append(signal.Signals(signum).name)
    if not first:
        raise KeyboardInterrupt


@contextlib.contextmanager
def catch_signals(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Turn the first SIGINT/SIGTERM into a flag read by ``run_chunks``; a second raises KeyboardInterrupt.

    The previous handlers are restored on exit, and the flag cleared. Nested uses (the
    entry point's, then :func:`countnets.cli.main`'s) share the outermost one's flag, so a
    signal that arrived during start-up is still seen. Outside the main thread (where
    Python cannot install handlers) this raises :class:`RuntimeError`.
    """
    global _depth
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("catch_signals() must be used in the main thread")
    if _depth:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    previous = {s: signal.getsignal(s) for s in signals}
    _received.clear()
    for s in signals:
        signal.signal(s, _handler)
    _depth = 1
    try:
        yield
    finally:
        _depth = 0
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        _received.clear()
