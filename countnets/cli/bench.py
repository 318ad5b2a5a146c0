"""``countnets bench``: run the standard counting suite and write its table.

Exit codes: 0 when every row passed or was measured; 1 when some row failed or raised
(its note is printed); 2 for bad input, as every command.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from countnets._errors import CountnetsError
from countnets._io import STDOUT, atomic_write_text
from countnets.cli.options import check_output_path, nonneg_int
from countnets.defaults import BENCH_SUITES

__all__ = ["add_bench_parser", "run_bench", "EXIT_ROW_FAILED"]

EXIT_ROW_FAILED = 1


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``countnets bench`` to ``subparsers``; returns its parser."""
    p = subparsers.add_parser(
        "bench",
        help="run the standard counting suite: named tasks against exact, closed-form and published references",
        description="Run the counting suite (docs/bench.md): each task is a measurement with its interval beside a "
        "reference and a verdict. The quick suite takes a few minutes on two cores, the standard one about an hour.",
    )
    p.add_argument("--suite", choices=BENCH_SUITES, default="standard", help="which suite (default: %(default)s)")
    p.add_argument(
        "--only",
        default=None,
        metavar="NAME,...",
        help="run only these tasks (comma-separated; default: every task of the suite)",
    )
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of every task (default: %(default)s)")
    p.add_argument("--json", default=None, metavar="PATH",
                   help="write the result record (usual JSON schema), '-' for stdout "
                   "(default: not written)")  # fmt: skip
    p.add_argument(
        "--markdown",
        default=None,
        metavar="PATH",
        help="write the Markdown table with machine and command (default: not written)",
    )
    p.add_argument("--list", action="store_true", help="list the tasks of the suite and exit")
    p.add_argument("--quiet", action="store_true", help="no per-task progress lines and no table")
    return p


def _command(args: argparse.Namespace) -> str:
    parts = ["countnets", "bench", "--suite", args.suite]
    if args.only:
        parts += ["--only", args.only]
    parts += ["--seed", str(args.seed)]
    for option in ("json", "markdown"):
        value = getattr(args, option)
        if value:
            parts += [f"--{option}", value]
    return shlex.join(parts)


def _list(args: argparse.Namespace) -> int:
    from countnets import bench

    tasks = bench.suite_tasks(args.suite, args.only.split(",") if args.only else None)
    for task in tasks:
        print(f"{task.name:28s} {task.group:12s} {task.reference.source:14s} {task.what}")
    missing = [name for name in bench.RARE_TASK_NAMES if name not in bench.registered()]
    if missing:
        print(f"not available here: {', '.join(missing)} (needs countnets.rare.splitting)")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    """Run the suite named by the parsed options; print the table and write the files asked for."""
    from countnets import bench, results

    for option in ("json", "markdown"):
        value = getattr(args, option)
        if value is not None:
            check_output_path(value, f"--{option}", stdout_ok=option == "json")
    if args.json and args.markdown and args.json == args.markdown:
        raise CountnetsError("--json and --markdown must be different files")
    if args.only is not None and not all(part.strip() for part in args.only.split(",")):
        raise CountnetsError(f"--only must be a comma-separated list of task names, got {args.only!r}")
    if args.seed >= 2**32:
        raise CountnetsError(f"--seed must be below 2**32, got {args.seed}")
    if args.list:
        return _list(args)
    tasks = bench.suite_tasks(args.suite, args.only.split(",") if args.only else None)
    if not args.quiet:
        print(f"countnets bench: {len(tasks)} task(s) of the {args.suite} suite, seed {args.seed}", file=sys.stderr)

    def progress(row) -> None:
        if not args.quiet:
            print(f"  {row.name}: {row.verdict} ({row.seconds:.1f} s)", file=sys.stderr, flush=True)

    result = bench.run_tasks(tasks, suite=args.suite, seed=args.seed, command=_command(args), progress=progress)
    to_stdout = args.json == STDOUT
    if args.json and not to_stdout:
        results.save_json(result, args.json)
    if args.markdown:
        atomic_write_text(args.markdown, bench.markdown_bench(result) + "\n")
    if not args.quiet:  # the table goes to stderr when the JSON takes stdout
        print(bench.format_bench(result), file=sys.stderr if to_stdout else sys.stdout)
    if to_stdout:
        sys.stdout.write(results.dumps(result))
        sys.stdout.flush()
    bad = [row for row in result.extra["rows"] if row.verdict in ("fail", "error")]
    return EXIT_ROW_FAILED if bad else 0
