"""The standard counting suite (``countnets bench``): named tasks, each a measurement beside a reference.

A task measures one number with the library (an estimate with its interval), sets it
beside a reference (exact, closed form, published, or an independent Monte Carlo
estimate, with its source) and decides a verdict by a stated agreement test. The
project's own experiments are rows too, with the verdict ``"measured"``.

>>> import countnets as cn
>>> result = cn.bench.run(suite="quick", only=["closed-form-n1"])  # doctest: +SKIP
>>> result.extra.rows[0].verdict  # doctest: +SKIP
'pass'

Adding a task is one :func:`register` call (see :mod:`countnets.bench.registry` and
``docs/bench.md``). Modules: :mod:`~countnets.bench.registry` (records, registry, agreement
tests, runner), :mod:`~countnets.bench.references` (independent NumPy/SciPy references),
:mod:`~countnets.bench.engine_tasks`, :mod:`~countnets.bench.published_tasks`,
:mod:`~countnets.bench.experiment_tasks`, :mod:`~countnets.bench.rare` (registered only
where ``countnets.rare.splitting`` exists) and :mod:`~countnets.bench.output` (tables).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from countnets.bench import engine_tasks as engine_tasks
from countnets.bench import experiment_tasks as experiment_tasks
from countnets.bench import published_tasks as published_tasks
from countnets.bench import rare as rare
from countnets.bench.output import format_bench, markdown_bench
from countnets.bench.rare import RARE_TASK_NAMES, rare_event_tasks, splitting_available
from countnets.bench.registry import (
    ALPHA,
    SOURCES,
    SUITES,
    VERDICTS,
    Agreement,
    Measurement,
    Reference,
    Task,
    get_task,
    mark_unavailable,
    register,
    registered,
    run_tasks,
    suite_tasks,
)
from countnets.results import CountResult
from countnets.results.payloads import BenchRow

__all__ = [
    "ALPHA",
    "SOURCES",
    "SUITES",
    "VERDICTS",
    "RARE_TASK_NAMES",
    "Agreement",
    "Measurement",
    "Reference",
    "Task",
    "register",
    "registered",
    "get_task",
    "suite_tasks",
    "run",
    "run_tasks",
    "rare_event_tasks",
    "splitting_available",
    "format_bench",
    "markdown_bench",
]

if splitting_available():
    for _task in rare_event_tasks():
        register(_task)
else:
    for _name in RARE_TASK_NAMES:
        mark_unavailable(_name, rare.UNAVAILABLE)


def run(
    suite: str = "quick",
    only: Iterable[str] | str | None = None,
    seed: int = 0,
    *,
    alpha: float = ALPHA,
    command: str = "",
    progress: Callable[[BenchRow], None] | None = None,
) -> CountResult:
    """Run the counting suite and return one ``kind="bench"`` result.

    Args:
      suite: ``"quick"`` (CI, a few minutes on two cores) or ``"standard"`` (about an hour on CPU).
      only: task names (a list, or a comma-separated string) to run instead of the whole suite.
      seed: the seed every task draws from (each task from its own seeded streams).
      alpha: per-row significance level of the p-value tests; binomial intervals are at ``1 - alpha``.
      command: the command line to record (the CLI passes its own).
      progress: called with each finished row.

    Returns:
      A :class:`~countnets.CountResult` of kind ``"bench"`` whose ``extra`` is a
      :class:`~countnets.results.payloads.BenchPayload` with one row per task.

    Raises:
      CountnetsError: for an unknown suite or task, a task not in the suite, a rare-event
        task without ``countnets.rare.splitting``, or a bad seed.
    """
    names = only.split(",") if isinstance(only, str) else only
    tasks = suite_tasks(suite, names)
    return run_tasks(tasks, suite=suite, seed=seed, alpha=alpha, command=command, progress=progress)
