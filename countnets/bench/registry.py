"""The task registry of the counting suite, its agreement tests, and the runner.

A :class:`Task` is a named measurement (a function of its config and a seed returning a
:class:`Measurement`: an estimate with its interval) beside a :class:`Reference` (a value
or claim with its source kind and citation) and an agreement test turning the two into an
:class:`Agreement` (a p-value or an interval verdict). :func:`register` refuses a task
without a measurement or without a reference source, and a reference that is not
"measured-only" without a citation, a value and an agreement test.

:func:`run_tasks` runs tasks one after another and returns one ``kind="bench"``
:class:`~countnets.CountResult` whose payload (:class:`~countnets.results.payloads.BenchPayload`)
holds one :class:`~countnets.results.payloads.BenchRow` per task. A task that raises is recorded
with the verdict ``"error"`` and its message; the rest still run.

Verdicts: ``"pass"`` (the test does not reject agreement at level ``alpha``, or the
interval claim holds), ``"fail"``, ``"measured"`` (no reference: experiments) and
``"error"``.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import platform
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
from scipy import stats

from countnets._errors import CountnetsError
from countnets.defaults import BENCH_SUITES as SUITES  # noqa: F401 (re-exported)
from countnets.engine.sources import DEFAULT_CHUNK_SIZE
from countnets.records import encode
from countnets.results import CountResult, count_result, payloads
from countnets.stats.statistics import clopper_pearson

__all__ = [
    "SOURCES",
    "SUITES",
    "VERDICTS",
    "GROUPS",
    "ALPHA",
    "Reference",
    "Measurement",
    "Agreement",
    "Task",
    "register",
    "registered",
    "get_task",
    "suite_tasks",
    "run_tasks",
    "binomial_agreement",
    "p_value_agreement",
    "interval_below",
    "interval_above",
    "interval_overlaps",
    "call",
]

SOURCES = ("exact", "closed-form", "published", "monte-carlo", "measured-only")
"""Where a reference comes from. ``monte-carlo``: an independent plain Monte Carlo estimate (only to check a
rare-event estimator where both reach); ``measured-only`` rows (experiments) have no reference."""

GROUPS = ("engine", "published", "rare-events", "experiments")
VERDICTS = ("pass", "fail", "measured", "error")
ALPHA = 0.001
"""Per-row significance level of the p-value tests (and 1 - confidence of the binomial intervals)."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclasses.dataclass(frozen=True)
class Reference:
    """What a row is compared with.

    Attributes:
      source: one of :data:`SOURCES`.
      citation: where it comes from (paper, OEIS entry, derivation in ``docs/bench.md``).
      claim: the reference in words, e.g. ``"P(x0) = 1/4 - arcsin(rho)/(2 pi)"``.
      value: the reference number, or a function of the task's config returning it
        (computed when the task runs, apart from the measurement); ``None`` for a
        qualitative claim judged by the agreement test alone, or for ``measured-only``.
      tolerance: how agreement is judged, in words.
    """

    source: str
    citation: str = ""
    claim: str = ""
    value: float | Callable[[Mapping[str, Any]], float] | None = None
    tolerance: str = ""

    def resolve(self, config: Mapping[str, Any]) -> float | None:
        """The reference number for ``config`` (calls ``value`` when it is a function)."""
        return self.value(config) if callable(self.value) else self.value


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What a task measured.

    Attributes:
      estimate: the number reported (a probability, a count, a slope, a ratio...).
      interval: its interval ``(lo, hi)`` at ``confidence``.
      confidence: the interval's level.
      unit: what ``estimate`` is, e.g. ``"P(0x2)"`` or ``"distinct functions"``.
      samples: prior samples (or enumerated configurations, or training runs) used.
      evaluations: network evaluations over the cube (forward passes), when known.
      call: the library call that made the measurement, as Python text.
      details: JSON-ready numbers the agreement test and the reader need.
      data: anything else the agreement test needs (not stored).
    """

    estimate: float
    interval: tuple[float, float]
    confidence: float
    unit: str
    samples: int
    evaluations: int = 0
    call: str = ""
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data: Any = None


@dataclasses.dataclass(frozen=True)
class Agreement:
    """The outcome of an agreement test: its name, p-value or interval overlap, and whether it passed."""

    test: str
    passed: bool
    p_value: float | None = None
    overlap: bool | None = None
    note: str = ""


AgreementFn = Callable[[Measurement, float | None, Mapping[str, Any]], Agreement]
MeasureFn = Callable[[Mapping[str, Any], int], Measurement]


@dataclasses.dataclass(frozen=True)
class Task:
    """One named row of the suite.

    Attributes:
      name: a slug, e.g. ``"closed-form-n1"``; the name ``--only`` takes.
      group: one of :data:`GROUPS`.
      what: what is measured, in one sentence.
      suites: suite name -> the config the task runs with there (a task may be in one suite only).
      measure: ``measure(config, seed) -> Measurement``, built on the library's estimators
        (required: ``None`` is refused).
      reference: the :class:`Reference` (required: ``None`` is refused).
      agree: ``agree(measurement, reference_value, config) -> Agreement``; ``None`` only for
        ``measured-only`` references.

    Raises:
      CountnetsError: for a missing measurement, reference source, citation, value or
        agreement test, an unknown group or suite, or a bad name.
    """

    name: str
    group: str
    what: str
    suites: Mapping[str, Mapping[str, Any]]
    measure: MeasureFn | None  # ``None`` is typed so that the registry, not the type checker, refuses it
    reference: Reference | None
    agree: AgreementFn | None = None

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not _NAME.match(name):
            raise CountnetsError(f"a task name must be a lowercase slug like 'closed-form-n1', got {name!r}")
        if not callable(self.measure):
            raise CountnetsError(f"task {name!r} has no measurement: measure must be a function, got {self.measure!r}")
        ref = self.reference
        if not isinstance(ref, Reference) or ref.source not in SOURCES:
            got = getattr(ref, "source", ref)
            raise CountnetsError(f"task {name!r} has no reference source: expected one of {SOURCES}, got {got!r}")
        if ref.source != "measured-only":
            if not ref.citation.strip():
                raise CountnetsError(f"task {name!r}: a {ref.source} reference needs a citation")
            if not ref.claim.strip():
                raise CountnetsError(f"task {name!r}: a {ref.source} reference needs its claim in words")
            if not callable(self.agree):
                raise CountnetsError(f"task {name!r}: a {ref.source} reference needs an agreement test")
        if self.group not in GROUPS:
            raise CountnetsError(f"task {name!r}: group must be one of {GROUPS}, got {self.group!r}")
        if not self.what.strip():
            raise CountnetsError(f"task {name!r} needs a description of what it measures")
        if not self.suites or set(self.suites) - set(SUITES):
            raise CountnetsError(
                f"task {name!r}: suites must be a non-empty subset of {SUITES}, got {list(self.suites)}"
            )


_REGISTRY: dict[str, Task] = {}
_UNAVAILABLE: dict[str, str] = {}  # task name -> why it is not registered here


def register(task: Task) -> Task:
    """Add ``task`` to the suite (returns it, so it can wrap a definition).

    Raises:
      CountnetsError: for an object that is not a valid :class:`Task` (checked again here,
        in case it was built around the constructor), or a name already registered.
    """
    if not isinstance(task, Task):
        raise CountnetsError(f"register needs a countnets.bench.Task, got {type(task).__name__}")
    Task.__post_init__(task)
    if task.name in _REGISTRY:
        raise CountnetsError(f"a task named {task.name!r} is already registered")
    _REGISTRY[task.name] = task
    return task


def mark_unavailable(name: str, reason: str) -> None:
    """Record that a known task is not registered in this installation, and why (for :func:`get_task`)."""
    _UNAVAILABLE[name] = reason


def registered() -> dict[str, Task]:
    """Every registered task by name, in registration order."""
    return dict(_REGISTRY)


def get_task(name: str) -> Task:
    """The registered task ``name``.

    Raises:
      CountnetsError: naming the known tasks, or saying why a known task is unavailable.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _UNAVAILABLE:
        raise CountnetsError(f"task {name!r} is not available: {_UNAVAILABLE[name]}")
    raise CountnetsError(f"no task named {name!r}; known tasks: {', '.join(_REGISTRY)}")


def suite_tasks(suite: str, only: Iterable[str] | None = None) -> list[Task]:
    """The tasks of ``suite``: all of them (by group, in :data:`GROUPS` order), or those named in ``only``.

    Raises:
      CountnetsError: for an unknown suite or task, or a named task that is not in ``suite``.
    """
    if suite not in SUITES:
        raise CountnetsError(f"suite must be one of {SUITES}, got {suite!r}")
    if only is None:
        chosen = [t for t in _REGISTRY.values() if suite in t.suites]
        return sorted(chosen, key=lambda t: GROUPS.index(t.group))  # stable: registration order within a group
    names = [n.strip() for n in only]
    if not names or not all(names):
        raise CountnetsError(f"only must name at least one task, got {list(only)!r}")
    chosen = []
    for name in dict.fromkeys(names):
        task = get_task(name)
        if suite not in task.suites:
            raise CountnetsError(f"task {name!r} is not in the {suite} suite; it runs in: {', '.join(task.suites)}")
        chosen.append(task)
    return chosen


# ----------------------------------------------------------------------------- agreement tests


def binomial_agreement(m: Measurement, reference: float | None, config: Mapping[str, Any]) -> Agreement:
    """Exact two-sided binomial test of ``hits / n`` against the reference probability.

    Needs ``details["hits"]`` and ``details["n"]``. Passes when the p-value is at least
    ``config.get("alpha", ALPHA)``; ``overlap`` says whether the reference lies in the
    row's Clopper-Pearson interval. A reference of 0 passes only at zero hits.
    """
    if reference is None:
        raise CountnetsError("a binomial test needs a reference probability")
    hits, n = int(m.details["hits"]), int(m.details["n"])
    alpha = float(config.get("alpha", ALPHA))
    p_value = (
        float(stats.binomtest(hits, n, reference).pvalue)
        if 0 < reference < 1
        else float(hits == (0 if reference == 0 else n))
    )
    lo, hi = m.interval
    return Agreement(
        test="exact binomial test (two-sided)", passed=p_value >= alpha, p_value=p_value, overlap=lo <= reference <= hi
    )


def p_value_agreement(test: str) -> AgreementFn:
    """An agreement test reading a p-value the measurement computed (``details["p_value"]``)."""

    def agree(m: Measurement, reference: float | None, config: Mapping[str, Any]) -> Agreement:
        p_value = float(m.details["p_value"])
        alpha = float(config.get("alpha", ALPHA))
        overlap = None if reference is None else bool(m.interval[0] <= reference <= m.interval[1])
        return Agreement(test=test, passed=p_value >= alpha, p_value=p_value, overlap=overlap)

    return agree


def interval_below(bound: float, test: str) -> AgreementFn:
    """Passes when the whole interval lies below ``bound`` (e.g. a correlation below 0)."""

    def agree(m: Measurement, reference: float | None, config: Mapping[str, Any]) -> Agreement:
        ok = m.interval[1] < bound
        return Agreement(test=test, passed=ok, overlap=ok)

    return agree


def interval_above(bound: float, test: str) -> AgreementFn:
    """Passes when the whole interval lies above ``bound``."""

    def agree(m: Measurement, reference: float | None, config: Mapping[str, Any]) -> Agreement:
        ok = m.interval[0] > bound
        return Agreement(test=test, passed=ok, overlap=ok)

    return agree


def interval_overlaps(lo: float, hi: float, test: str) -> AgreementFn:
    """Passes when the interval meets the band ``[lo, hi]`` (a tolerance around a published value)."""

    def agree(m: Measurement, reference: float | None, config: Mapping[str, Any]) -> Agreement:
        ok = m.interval[0] <= hi and m.interval[1] >= lo
        return Agreement(test=test, passed=ok, overlap=ok)

    return agree


# ----------------------------------------------------------------------------- helpers for tasks


def call(fn: str, *args: Any, **kwargs: Any) -> str:
    """A library call as Python text, e.g. ``call("cn.estimate_mc", prior, arch, "0x2", n_samples=10)``."""
    parts = [_py(a) for a in args] + [f"{k}={_py(v)}" for k, v in kwargs.items()]
    return f"{fn}({', '.join(parts)})"


def _py(value: Any) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ", ".join(f"{f.name}={_py(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return f"cn.{type(value).__name__}({fields})"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
        return f"{value:_}"
    return repr(value)


def cp_interval(hits: int, n: int, confidence: float) -> tuple[float, float]:
    """Clopper-Pearson interval (a thin alias, so task modules read the same)."""
    return clopper_pearson(hits, n, confidence)


# ----------------------------------------------------------------------------- runner


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count() or 0,
        "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0,
        "device": str(jax.devices()[0].device_kind),
        "device_count": jax.device_count(),
        "platform": platform.platform(),
    }


def _finite_or_none(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) or math.isinf(x) else None


def _run_one(task: Task, suite: str, seed: int, alpha: float) -> payloads.BenchRow:
    config = {**task.suites[suite], "alpha": alpha}
    ref, measure = task.reference, task.measure
    assert ref is not None and measure is not None  # checked by Task and register
    start = time.perf_counter()
    base = dict(
        name=task.name, group=task.group, what=task.what, suite=suite, config=encode(dict(task.suites[suite])),
        source=ref.source, citation=ref.citation, claim=ref.claim, tolerance=ref.tolerance,
    )  # fmt: skip
    try:
        m = measure(config, seed)
        reference = ref.resolve(config) if ref.source != "measured-only" else None
        if task.agree is None:
            agreement = Agreement(test="none (measured only)", passed=True)
            verdict = "measured"
        else:
            agreement = task.agree(m, reference, config)
            verdict = "pass" if agreement.passed else "fail"
        return payloads.BenchRow(
            **base, command=m.call, estimate=float(m.estimate), interval=[float(v) for v in m.interval],
            confidence=float(m.confidence), unit=m.unit, test=agreement.test, verdict=verdict, note=agreement.note,
            samples=int(m.samples), evaluations=int(m.evaluations), seconds=time.perf_counter() - start,
            details=encode(dict(m.details)), reference=_finite_or_none(reference),
            p_value=_finite_or_none(agreement.p_value), overlap=agreement.overlap,
        )  # fmt: skip
    except Exception as err:  # noqa: BLE001 - a failing task is a row with verdict "error", not a crashed suite
        return payloads.BenchRow(
            **base, command="", estimate=math.nan, interval=[math.nan, math.nan], confidence=math.nan, unit="",
            test="", verdict="error", note=f"{type(err).__name__}: {err}", samples=0, evaluations=0,
            seconds=time.perf_counter() - start, details={},
        )  # fmt: skip


def run_tasks(
    tasks: Sequence[Task],
    *,
    suite: str = "quick",
    seed: int = 0,
    alpha: float = ALPHA,
    command: str = "",
    progress: Callable[[payloads.BenchRow], None] | None = None,
) -> CountResult:
    """Run ``tasks`` with their ``suite`` configs and ``seed``; one ``kind="bench"`` result.

    Each task draws from its own seeded streams, so a row does not depend on which other
    rows ran. ``progress`` is called with each finished row.
    """
    if suite not in SUITES:
        raise CountnetsError(f"suite must be one of {SUITES}, got {suite!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise CountnetsError(f"seed must be an int in 0..2**32-1, got {seed!r}")
    date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    if not 0 < alpha < 1:
        raise CountnetsError(f"alpha must be in (0, 1), got {alpha}")
    missing = [t.name for t in tasks if suite not in t.suites]
    if missing:
        raise CountnetsError(f"tasks {missing} have no config for the {suite} suite")
    start = time.perf_counter()
    rows = []
    for task in tasks:
        row = _run_one(task, suite, seed, alpha)
        rows.append(row)
        if progress is not None:
            progress(row)
    seconds = time.perf_counter() - start
    counts = Counter(r.verdict for r in rows)
    payload = payloads.BenchPayload(
        suite=suite, alpha=alpha, command=command, machine=_machine(),
        date=date,
        verdicts={v: int(counts[v]) for v in VERDICTS}, rows=rows,
    )  # fmt: skip
    samples = sum(r.samples for r in rows)
    return count_result(
        "bench", {"suite": suite, "tasks": [t.name for t in tasks], "alpha": alpha}, seed=seed,
        chunk_size=DEFAULT_CHUNK_SIZE, samples=samples, seconds=seconds, device_count=jax.device_count(), extra=payload,
    )  # fmt: skip
