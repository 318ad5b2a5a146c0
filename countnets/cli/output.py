"""What the command line does with output paths and a finished result.

Before any work, :func:`check_outputs` refuses every output path (``--json``,
``--checkpoint``, ``--plot``, ``plot --out``) that could not be written. During the run
:func:`output_locks` holds exclusive locks on ``--checkpoint`` and ``--json``. After it,
:func:`finish` prints the table first, then writes the JSON (``--json -``: standard
output) and figures, and says where each went; a JSON write that still fails keeps the
result in the working directory (or, failing that, on stderr) and names it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from countnets import _io
from countnets._errors import CountnetsError

if TYPE_CHECKING:
    from countnets.results import CountResult

__all__ = [
    "check_output_path",
    "check_outputs",
    "output_locks",
    "info_stream",
    "partial_path",
    "write_json",
    "stop_note",
    "finish",
]

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def check_output_path(path: str, option: str, *, stdout_ok: bool = False) -> None:
    """Refuse, before any work, an output path that could not be written (``-``: stdout, where allowed)."""
    if path == _io.STDOUT:
        if stdout_ok:
            return
        raise CountnetsError(f"{option} needs a file path, got '-' (standard output is not available for {option})")
    _io.check_destination(path, option)


def _plot_kind(args: argparse.Namespace) -> str | None:
    return getattr(args, "experiment", None) or getattr(args, "command", None)


def check_outputs(args: argparse.Namespace) -> None:
    """Check every output path the command will write, before any work."""
    json_path = getattr(args, "json", None)
    if json_path is not None:
        check_output_path(json_path, "--json", stdout_ok=True)
    ckpt = getattr(args, "checkpoint", None)
    if ckpt is not None:
        check_output_path(ckpt, "--checkpoint")
        if json_path not in (None, _io.STDOUT) and os.path.realpath(json_path) == os.path.realpath(ckpt):
            raise CountnetsError("--checkpoint and --json must be different files")
    plot = getattr(args, "plot", None)
    if plot is not None:
        check_output_path(plot, "--plot")
        from countnets.results import plotting

        for path in plotting.output_paths(_plot_kind(args) or "", plot):
            check_output_path(str(path), "--plot")
            if json_path not in (None, _io.STDOUT) and os.path.realpath(path) == os.path.realpath(json_path):
                raise CountnetsError(f"--plot would write {str(path)!r}, the --json file; give another --plot path")


@contextlib.contextmanager
def output_locks(args: argparse.Namespace) -> Iterator[None]:
    """Hold exclusive locks on ``--checkpoint`` and ``--json`` (a file) for the block.

    Once a path is locked, the temporary files a killed earlier run left beside it are
    removed (no live writer can own them).
    """
    with contextlib.ExitStack() as stack:
        json_path = getattr(args, "json", None)
        for path, option in ((getattr(args, "checkpoint", None), "--checkpoint"), (json_path, "--json")):
            if path not in (None, _io.STDOUT):
                stack.enter_context(_io.locked(path, option))
                _io.remove_stale_temporaries(path)
                if option == "--json":
                    _io.remove_stale_temporaries(partial_path(path))
        yield


def info_stream(args: argparse.Namespace) -> Any:
    """Where tables and notes go: stdout, or stderr when the JSON goes to stdout (``--json -``)."""
    return sys.stderr if getattr(args, "json", None) == _io.STDOUT else sys.stdout


def _keep(text: str, result: CountResult) -> str | None:
    """Write ``text`` to a new file in the working directory; its name, or ``None`` if that fails too."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(100):
        name = f"countnets-{result.kind}-{stamp}-{os.getpid()}" + (f"-{attempt}" if attempt else "") + ".json"
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError:
            return None
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(name)
            return None
        return os.path.abspath(name)
    return None


def partial_path(path: str) -> str:
    """Where a partial (interrupted) result goes when ``path`` holds a finished one: ``NAME.partial.json``."""
    stem = path[: -len(".json")] if path.endswith(".json") else path
    return f"{stem}.partial.json"


def _finished_result_at(path: str) -> bool:
    """Whether ``path`` holds a countnets result that ran to its end (not ``stopped_by: interrupted``)."""
    try:
        data = _io.read_json(path, "--json", limit=1 << 28)
    except CountnetsError:
        return False
    finished = isinstance(data, dict) and data.get("stopped_by") != "interrupted"
    return finished and "kind" in data and "schema_version" in data


def _json_destination(args: argparse.Namespace, result: CountResult) -> str:
    """The output-file rule: a partial result never replaces a finished one; replacing a finished one is said."""
    path = args.json
    if not _finished_result_at(path):
        return path
    if str(result.stopped_by) == "interrupted":
        kept = partial_path(path)
        print(f"countnets: {path} holds a finished result, kept as it is; this partial result goes to {kept}",
              file=sys.stderr)  # fmt: skip
        return kept
    print(f"countnets: replacing the finished result in {path}", file=sys.stderr)
    return path


def write_json(args: argparse.Namespace, result: CountResult, out: Any) -> int:
    """Write ``--json`` (``-``: stdout); on a failed write keep the result elsewhere and say where. The exit code.

    The output-file rule: a finished result in ``--json`` is never replaced by a partial
    (interrupted) one, which goes beside it as ``NAME.partial.json``; replacing a finished
    result with another finished one is allowed and said on stderr.
    """
    if getattr(args, "json", None) is None:
        return EXIT_OK
    from countnets import results

    text = results.dumps(result)
    if args.json == _io.STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return EXIT_OK
    target = _json_destination(args, result)
    try:
        results.save_json(result, target)
    except _io.WriteError as err:
        kept = _keep(text, result)
        if kept is not None:
            print(f"countnets: error: {err}; the result was saved to {kept} instead", file=sys.stderr)
        else:
            print(f"countnets: error: {err}; the result JSON follows on stderr", file=sys.stderr)
            sys.stderr.write(text)
        return EXIT_BAD_INPUT
    if not args.quiet:
        print(f"wrote {target}", file=out)
    return EXIT_OK


def _resumed_note(result: CountResult) -> str | None:
    """How a resumed run split its work: this run's samples and rate apart from the totals."""
    ckpt = result.extra.get("checkpoint") if hasattr(result.extra, "get") else None
    resumed = int(ckpt.get("resumed_from") or 0) if isinstance(ckpt, dict) else 0
    if not resumed:
        return None
    new = max(0, result.samples - resumed)
    total_seconds = float(ckpt.get("seconds_total") or result.seconds)
    return (
        f"resumed from checkpoint {ckpt.get('path')} at {resumed:,} samples: this run {new:,} samples in "
        f"{result.seconds:.1f} s ({result.samples_per_s:.3g} nets/s); in all {result.samples:,} samples in "
        f"{total_seconds:.1f} s"
    )


def _rel_width_note(args: argparse.Namespace, result: CountResult) -> str:
    """Why ``--rel-width`` did not stop the run before ``--samples``."""
    cold = [e.function for e in result.estimates if e.hits == 0]
    head = f"--rel-width {args.rel_width:g} was not reached within --samples {args.samples:,}"
    if cold:
        return (
            f"{head}: {', '.join(cold[:5])}{' ...' if len(cold) > 5 else ''} had no hits, and a relative width "
            "needs at least one; raise --samples"
        )
    widths = [((e.ci[1] - e.ci[0]) / 2 / e.p, e.function) for e in result.estimates if e.p > 0]
    if not widths:
        return head
    widest, function = max(widths)
    return f"{head}: the widest relative half-width is {widest:.3g} ({function}); raise --samples"


def stop_note(args: argparse.Namespace, result: CountResult) -> str | None:
    """One line saying why a run stopped before its ``--samples`` (or why ``--rel-width`` could not stop it)."""
    stopped = str(result.stopped_by)
    planned = getattr(args, "samples", None)
    of = f" after {result.samples:,} of {planned:,} samples" if isinstance(planned, int) else ""
    if stopped == "time":
        return f"stopped by --max-seconds {args.max_seconds:g}{of}"
    if stopped == "rel_halfwidth":
        return (
            f"stopped by --rel-width {args.rel_width:g}{of}: every target's interval half-width is within "
            f"{args.rel_width:g} of its estimate"
        )
    if stopped == "samples" and getattr(args, "rel_width", None) is not None:
        return _rel_width_note(args, result)
    return None


def finish(
    args: argparse.Namespace,
    result: CountResult,
    table: str,
    plot: Callable[[CountResult, Any], Any] | None = None,
) -> int:
    """Print the table (unless ``--quiet``), then write the JSON and figures as asked; the exit code.

    The table comes first, so a result is on the screen even if a write fails. A
    failed figure raises :class:`CountnetsError` after the JSON was written.
    """
    out = info_stream(args)
    if not args.quiet:
        print(table, file=out)
        for note in (_resumed_note(result), stop_note(args, result)):
            if note:
                print(note, file=out)
        out.flush()
    code = write_json(args, result, out)
    if getattr(args, "plot", None):
        if plot is None:
            raise CountnetsError("this experiment has no plot")
        written = plot(result, args.plot)
        for path in written if isinstance(written, (list, tuple)) else [written]:
            if not args.quiet:
                print(f"wrote {path}", file=out)
    if code == EXIT_OK and not args.quiet and getattr(args, "json", None) is None:
        print("result not saved: add --json PATH to keep it (or --json - for standard output)", file=out)
    return code
