"""Host-side sums of step outputs, as Python ints, with checkpoint state.

A step (:func:`countnets.engine.steps.build_step`) returns int32 counts for one batch of
chunks; an accumulator adds them on the host in chunk order, as Python ints (no
overflow), and can save and restore itself (``state_dict`` / ``load_state_dict``) so that
a run resumes exactly (:mod:`countnets.engine.checkpoint`).

Histogram keys arrive as uint32 columns, most significant first
(:func:`countnets.engine.steps.sorted_run_counts`); :class:`HistogramAccumulator` reads each row
as one integer (a truth table), :class:`KeyedAccumulator` as a tuple of integers, one per
key field (:func:`countnets.measures.decode_keys`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from countnets._errors import CountnetsError, check_positive_int
from countnets.defaults import DEFAULT_MAX_DISTINCT  # noqa: F401 (re-exported)
from countnets.measures import decode_keys

__all__ = [
    "DEFAULT_MAX_DISTINCT",
    "CountAccumulator",
    "HistogramAccumulator",
    "KeyedAccumulator",
    "keys_to_ints",
    "merge_histogram_step",
    "merge_keyed_step",
]

# Distinct functions a histogram keeps on the host by default (about 1.25x this many
# entries at most; see HistogramAccumulator and docs/scaling.md).


def keys_to_ints(keys: np.ndarray) -> list[int]:
    """Key rows (uint32 columns, most significant first) as one Python int each.

    >>> keys_to_ints(np.array([[1, 2], [0, 7]], np.uint32))
    [4294967298, 7]
    """
    return [k for (k,) in decode_keys(np.asarray(keys), (np.asarray(keys).shape[1],))]


def merge_histogram_step(histogram: Counter, step_out: dict[str, Any]) -> None:
    """Add one histogram step's device output into a host ``Counter`` (int key -> count)."""
    n_unique = int(step_out["n_unique"])
    keys = np.asarray(step_out["keys"])[:n_unique]
    counts = np.asarray(step_out["counts"])[:n_unique]
    for table, count in zip(keys_to_ints(keys), counts.tolist()):
        if count:
            histogram[table] += count


def merge_keyed_step(histogram: Counter, step_out: dict[str, Any], fields: Sequence[int]) -> None:
    """Add a step's device histogram into a host ``Counter`` keyed on tuples of ints, one per field.

    ``fields`` gives how many key columns each field spans (a packed table spans its
    uint32 words, most significant first; a plain int spans 1). Rows with count 0
    (padding, or outside the event) are skipped.
    """
    n_unique = int(step_out["n_unique"])
    keys = np.asarray(step_out["keys"])[:n_unique]
    counts = np.asarray(step_out["counts"])[:n_unique].tolist()
    if keys.shape[1] != sum(fields):
        raise CountnetsError(f"key has {keys.shape[1]} columns but the fields {tuple(fields)} span {sum(fields)}")
    for key, count in zip(decode_keys(keys, fields), counts):
        if count:
            histogram[key] += count


def _out_of_range(samples: int, **counts: int) -> str | None:
    """A phrase naming the first count outside ``0 .. samples``, or ``None``."""
    for name, value in counts.items():
        if not 0 <= value <= samples:
            return f"{name} is {value}, outside 0..{samples} for {samples} samples done"
    return None


@dataclasses.dataclass
class CountAccumulator:
    """Host-side sums of count steps (see :func:`countnets.engine.steps.build_step`), as Python ints.

    Attributes:
      hits: hits per measure, in measure order.
      nonfinite: networks with a non-finite value.
      near: networks with a value within the margin of 0.
    """

    hits: list[int]
    nonfinite: int = 0
    near: int = 0

    def merge(self, step_out: dict[str, Any]) -> None:
        """Add one step's output."""
        for i, h in enumerate(np.asarray(step_out["hits"]).tolist()):
            self.hits[i] += h
        self.nonfinite += int(step_out["nonfinite"])
        self.near += int(step_out["near"])

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state for a checkpoint."""
        return {"hits": list(self.hits), "nonfinite": self.nonfinite, "near": self.near}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`.

        Raises:
          CountnetsError: if the state is malformed or has another number of targets.
        """
        try:
            hits = [int(h) for h in state["hits"]]
            nonfinite, near = int(state["nonfinite"]), int(state["near"])
        except (KeyError, TypeError, ValueError) as err:
            raise CountnetsError(f"malformed count state in checkpoint: {err!r}") from None
        if len(hits) != len(self.hits):
            raise CountnetsError(f"saved counts have {len(hits)} targets, this run {len(self.hits)}")
        self.hits[:], self.nonfinite, self.near = hits, nonfinite, near

    def count_problem(self, samples: int) -> str | None:
        """Why these counts cannot come from ``samples`` samples (each count is at most that), or ``None``."""
        hits = {f"hits[{i}]": h for i, h in enumerate(self.hits)}
        return _out_of_range(samples, **hits, nonfinite=self.nonfinite, near=self.near)


@dataclasses.dataclass
class HistogramAccumulator:
    """Host-side sums of histogram steps, with an optional bound on the functions kept.

    With ``max_distinct=None`` every distinct function is kept and the counts are exact.
    With ``max_distinct=K`` the host table never holds more than about ``1.25 K``
    functions plus one step's rows: whenever it exceeds ``K + max(1, K // 4)`` entries it
    is reduced as in the mergeable Misra-Gries summary: with ``c`` the ``(K+1)``-th
    largest count, ``c`` is subtracted from every count and functions left with nothing
    are dropped. The guarantee, for every function f (kept count 0 if f is not kept)::

        kept(f) <= true(f) <= kept(f) + max_undercount,   max_undercount <= other / (K + 1)

    where ``other = samples merged - sum(kept)`` counts the samples not attributed to a
    kept function. So kept counts are lower bounds, every function with
    ``true(f) > max_undercount`` is kept, and ``other == 0`` means nothing was dropped
    (all counts exact). Which functions are kept can depend on how chunks were grouped
    into steps (chunks per step, devices); the bound holds for any grouping.

    Attributes:
      histogram: int truth table -> (kept) count.
      nonfinite: networks with a non-finite output.
      near: networks with an output within the margin of 0.
      max_distinct: K, or ``None`` for no bound.
      other: samples not attributed to a kept function.
      max_undercount: the largest amount by which any kept count can be below the truth.
      complete: every merged sample is counted (no ``where`` event), so kept counts plus
        ``other`` equal the samples merged; checked when a checkpoint is restored.

    Raises:
      CountnetsError: if ``max_distinct`` is not ``None`` or a positive int.
    """

    histogram: Counter = dataclasses.field(default_factory=Counter)
    nonfinite: int = 0
    near: int = 0
    max_distinct: int | None = None
    other: int = 0
    max_undercount: int = 0
    complete: bool = False

    def __post_init__(self):
        if self.max_distinct is not None:
            self.max_distinct = check_positive_int("max_distinct", self.max_distinct)

    @property
    def truncated(self) -> bool:
        """Whether any count was dropped (then kept counts are lower bounds)."""
        return self.other > 0

    def merge(self, step_out: dict[str, Any]) -> None:
        """Add one step's output (see :func:`countnets.engine.steps.build_step`), then reduce if over the bound."""
        merge_histogram_step(self.histogram, step_out)
        self.nonfinite += int(step_out["nonfinite"])
        self.near += int(step_out["near"])
        if self.max_distinct is not None and len(self.histogram) > self.max_distinct + max(1, self.max_distinct // 4):
            self._reduce()

    def _reduce(self) -> None:
        k = self.max_distinct
        counts = np.fromiter(self.histogram.values(), dtype=np.int64, count=len(self.histogram))
        cut = int(np.partition(counts, len(counts) - (k + 1))[len(counts) - (k + 1)])
        kept = {key: value - cut for key, value in self.histogram.items() if value > cut}
        self.other += int(counts.sum()) - sum(kept.values())
        self.max_undercount += cut
        self.histogram.clear()
        self.histogram.update(kept)

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state for a checkpoint (tables as hex strings)."""
        return {
            "histogram": {format(k, "x"): v for k, v in self.histogram.items()},
            "nonfinite": self.nonfinite,
            "near": self.near,
            "max_distinct": self.max_distinct,
            "other": self.other,
            "max_undercount": self.max_undercount,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`.

        Raises:
          CountnetsError: if the state is malformed or has another ``max_distinct``.
        """
        try:
            if state["max_distinct"] != self.max_distinct:
                raise CountnetsError(
                    f"saved histogram has max_distinct={state['max_distinct']}, this run {self.max_distinct}"
                )
            histogram = Counter({int(k, 16): int(v) for k, v in state["histogram"].items()})
            nonfinite, near = int(state["nonfinite"]), int(state["near"])
            other, under = int(state["other"]), int(state["max_undercount"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CountnetsError(f"malformed histogram state in checkpoint: {err!r}") from None
        self.histogram.clear()
        self.histogram.update(histogram)
        self.nonfinite, self.near, self.other, self.max_undercount = nonfinite, near, other, under

    def count_problem(self, samples: int) -> str | None:
        """Why these counts cannot come from ``samples`` samples, or ``None``.

        Every count is positive and at most ``samples``; kept counts plus ``other`` are
        at most ``samples``, and equal to it when ``complete``.
        """
        for table, count in self.histogram.items():
            if not 0 < count <= samples:
                return f"the count of {format(table, '#x')} is {count}, outside 1..{samples}"
        problem = _out_of_range(samples, nonfinite=self.nonfinite, near=self.near, other=self.other,
                                max_undercount=self.max_undercount)  # fmt: skip
        if problem:
            return problem
        total = sum(self.histogram.values()) + self.other
        if total > samples or (self.complete and total != samples):
            return f"the counts sum to {total}, but {samples} samples were done"
        return None


class KeyedAccumulator:
    """Host-side histogram of a circuit step's keys, with the step's flag counts.

    ``histogram`` maps a key tuple (see :func:`merge_keyed_step`) to its count;
    ``nonfinite`` and ``near`` sum the step's flag counts. It has ``state_dict`` /
    ``load_state_dict`` for checkpoints (:func:`countnets.engine.driver.run_chunks`).

    Args:
      fields: key columns spanned by each key field (see :func:`merge_keyed_step`).
    """

    def __init__(self, fields: Sequence[int]):
        self.fields = tuple(int(f) for f in fields)
        self.histogram: Counter = Counter()
        self.nonfinite = 0
        self.near = 0

    def merge(self, step_out: dict[str, Any]) -> None:
        """Add one step's (or one device's) output."""
        merge_keyed_step(self.histogram, step_out, self.fields)
        self.nonfinite += int(step_out["nonfinite"])
        self.near += int(step_out["near"])

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state: the histogram as ``[*key, count]`` rows, and the flag counts."""
        rows = [[*key, count] for key, count in sorted(self.histogram.items())]
        return {"fields": list(self.fields), "histogram": rows, "nonfinite": self.nonfinite, "near": self.near}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`.

        Raises:
          CountnetsError: if the state is malformed or has other key fields.
        """
        try:
            if tuple(state["fields"]) != self.fields:
                raise CountnetsError(f"saved histogram has key fields {state['fields']}, this run {list(self.fields)}")
            histogram = Counter({tuple(int(v) for v in row[:-1]): int(row[-1]) for row in state["histogram"]})
            nonfinite, near = int(state["nonfinite"]), int(state["near"])
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise CountnetsError(f"malformed circuit histogram in checkpoint: {err!r}") from None
        self.histogram.clear()
        self.histogram.update(histogram)
        self.nonfinite, self.near = nonfinite, near

    def count_problem(self, samples: int) -> str | None:
        """Why these counts are impossible, or ``None``: every count is positive, every flag count >= 0.

        A network may have several key variants, so counts are not bounded by ``samples``
        here; the checkpoint's content hash guards them.
        """
        for key, count in self.histogram.items():
            if count <= 0:
                return f"the count of key {list(key)} is {count}, not positive"
        for name, value in (("nonfinite", self.nonfinite), ("near", self.near)):
            if value < 0:
                return f"{name} is {value}, negative"
        return None
