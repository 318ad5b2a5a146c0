"""What a splitting run is asked for: the algorithm's options, its run, its interval.

:class:`SplittingOptions` holds the algorithm's settings (with the seed they fix the random
stream). The front ends (:func:`countnets.estimate_rare`, :func:`countnets.sample_rare`) take
them as keywords or as ``options=``, their run as keywords or as ``run=``
(:class:`~countnets.engine.driver.RunConfig`: a sample is a replica) and their confidence as a
keyword or as ``interval=`` (:class:`~countnets.engine.frontend.IntervalConfig`);
:func:`resolve_options` and :func:`resolve_run` turn either form into one, refusing both at once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.defaults import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_LEVEL_FRACTION,
    DEFAULT_MAX_LEVELS,
    DEFAULT_MOVE,
    DEFAULT_PARTICLES,
    DEFAULT_REPLICAS_PER_CHUNK,
    DEFAULT_SWEEPS,
    DEFAULT_TARGET_ACCEPTANCE,
    MOVES,
)
from countnets.engine.driver import RunConfig
from countnets.engine.frontend import IntervalConfig

__all__ = [
    "DEFAULT_ADAPT_GAIN",
    "SplittingOptions",
    "OPTION_DEFAULTS",
    "changed_options",
    "resolve_options",
    "RUN_FIELDS",
    "resolve_run",
]

DEFAULT_ADAPT_GAIN = 1.5


@dataclasses.dataclass(frozen=True)
class SplittingOptions:
    """The algorithm's settings (they decide the random stream together with the seed).

    Attributes:
      particles: particles per replica, N (>= 2).
      sweeps: move sweeps per level (every particle proposes once per sweep), and the
        step by which the pilot adds sweeps until its mixing check passes (:mod:`countnets.rare.pilot`).
      max_sweeps: the mixing cap, the most sweeps the pilot may give a level (``None``:
        ``sweeps``, no adaptation: the check is then only reported, per level).
      level_fraction: the fraction of the pilot population above each new level, in (0, 1).
      target_acceptance: the acceptance rate the pilot's step adaptation aims at, in (0, 1).
      pilot_particles: the pilot's population (``None``: ``2 * particles``).
      max_levels: the most levels the pilot may set; past it the event becomes the next level.
      adapt_gain: Robbins-Monro gain on the log step per sweep.
      move: the move restricted to each level (:data:`countnets.rare.moves.MOVES`): ``"auto"``
        is the prior's default (elliptical slice sampling for a Gaussian prior, a unit's exact
        conditional, ``"unit-gibbs"``, for a lattice, the reflected walk for a uniform box);
        ``"pcn"`` and ``"coordinate-resample"`` are the earlier moves, kept to compare;
        ``"lin-ess"`` (Gaussian) draws the readout exactly on the arcs of its ellipse.

    Raises:
      CountnetsError: for any invalid field.
    """

    particles: int = DEFAULT_PARTICLES
    sweeps: int = DEFAULT_SWEEPS
    level_fraction: float = DEFAULT_LEVEL_FRACTION
    target_acceptance: float = DEFAULT_TARGET_ACCEPTANCE
    pilot_particles: int | None = None
    max_levels: int = DEFAULT_MAX_LEVELS
    adapt_gain: float = DEFAULT_ADAPT_GAIN
    move: str = DEFAULT_MOVE
    max_sweeps: int | None = None

    def __post_init__(self) -> None:
        fix = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        fix("particles", check_positive_int("particles", self.particles))
        if self.particles < 2:
            raise CountnetsError(f"particles must be at least 2, got {self.particles}")
        fix("sweeps", check_positive_int("sweeps", self.sweeps))
        cap = self.sweeps if self.max_sweeps is None else self.max_sweeps
        fix("max_sweeps", check_positive_int("max_sweeps (the mixing cap)", cap))
        if self.max_sweeps < self.sweeps:  # type: ignore[operator]
            raise CountnetsError(f"max_sweeps must be at least sweeps ({self.sweeps}), got {self.max_sweeps}")
        for name in ("level_fraction", "target_acceptance"):
            value = check_finite_float(name, getattr(self, name))
            if not 0 < value < 1:
                raise CountnetsError(f"{name} must be in (0, 1), got {value}")
            fix(name, value)
        pilot = 2 * self.particles if self.pilot_particles is None else self.pilot_particles
        fix("pilot_particles", check_positive_int("pilot_particles", pilot))
        if self.pilot_particles < 2:
            raise CountnetsError(f"pilot_particles must be at least 2, got {self.pilot_particles}")
        fix("max_levels", check_positive_int("max_levels", self.max_levels))
        fix("adapt_gain", check_finite_float("adapt_gain", self.adapt_gain, positive=True))
        if self.move not in MOVES:
            raise CountnetsError(f"move must be one of {', '.join(MOVES)}, got {self.move!r}")

    def config(self) -> dict:
        """Plain-dict description, stored in results and checkpoint fingerprints."""
        return dataclasses.asdict(self)


OPTION_DEFAULTS = {field.name: field.default for field in dataclasses.fields(SplittingOptions)}


def changed_options(keywords: dict[str, Any]) -> dict[str, bool]:
    """For each option keyword, whether it differs from the :class:`SplittingOptions` default."""
    return {name: value != OPTION_DEFAULTS[name] for name, value in keywords.items()}


def resolve_options(options: Any, where: str, **keywords: Any) -> SplittingOptions:
    """``options`` when given (then no option keyword may differ from its default), else the keywords' options."""
    if options is None:
        return SplittingOptions(**keywords)
    if not isinstance(options, SplittingOptions):
        raise CountnetsError(f"{where}: options must be a countnets.SplittingOptions, got {type(options).__name__}")
    clash = [name for name, changed in changed_options(keywords).items() if changed]
    if clash:
        raise CountnetsError(f"{where}: give {', '.join(clash)} in options= or as keywords, not both")
    return options


# RunConfig field -> the splitting front ends' keyword (a replica is a sample).
RUN_FIELDS = {
    "n_samples": "replicas", "seed": "seed", "chunk_size": "replicas_per_chunk", "chunks_per_step": "chunks_per_step",
    "devices": "devices", "checkpoint": "checkpoint", "checkpoint_every": "checkpoint_every",
    "max_seconds": "max_seconds", "rel_halfwidth": "rel_halfwidth", "progress": "progress",
}  # fmt: skip
_RUN_DEFAULTS = {field.name: field.default for field in dataclasses.fields(RunConfig)}


def resolve_run(run: Any, interval: Any, where: str, keywords: dict[str, Any], defaults: dict[str, Any],
                confidence: float) -> tuple[dict[str, Any], float]:  # fmt: skip
    """The run keywords and the confidence of a splitting front end, from ``run=`` and ``interval=`` or keywords.

    ``keywords`` are the front end's run keywords as called and ``defaults`` their defaults
    (both keyed by the names in :data:`RUN_FIELDS`' values); a front end that takes only some
    of them refuses a ``run`` whose other fields differ from RunConfig's defaults. With ``run`` (a
    :class:`~countnets.engine.driver.RunConfig`), ``n_samples`` is the replica count and
    ``chunk_size`` the replicas per chunk; RunConfig's default chunk size (4096, sized for
    networks) means the splitting default, :data:`countnets.defaults.DEFAULT_REPLICAS_PER_CHUNK`
    (results never depend on it). With ``interval`` (an
    :class:`~countnets.engine.frontend.IntervalConfig`) only its ``confidence`` is read: the method
    is splitting's own (log-t over replicas), so another method is refused.

    Returns:
      ``(keywords, confidence)``, the keywords with the run's values.

    Raises:
      CountnetsError: for ``run`` or ``interval`` of another type, either given beside a changed
        keyword of its own, or an interval method other than the default.
    """
    if run is not None:
        if not isinstance(run, RunConfig):
            raise CountnetsError(f"{where}: run must be a countnets.RunConfig, got {type(run).__name__}")
        clash = [name for name, value in keywords.items() if value != defaults[name]]
        if clash:
            raise CountnetsError(f"{where}: give run options either in run= or as arguments, not both "
                                 f"({', '.join(clash)})")  # fmt: skip
        unused = [f"run.{field}" for field, name in RUN_FIELDS.items()
                  if name not in keywords and getattr(run, field) != _RUN_DEFAULTS[field]]  # fmt: skip
        if unused:
            raise CountnetsError(f"{where} does not take {', '.join(unused)}; leave it at its default")
        keywords = {name: getattr(run, field) for field, name in RUN_FIELDS.items() if name in keywords}
        if run.chunk_size == DEFAULT_CHUNK_SIZE:
            keywords["replicas_per_chunk"] = DEFAULT_REPLICAS_PER_CHUNK
    if interval is not None:
        if not isinstance(interval, IntervalConfig):
            raise CountnetsError(f"{where}: interval must be a countnets.IntervalConfig, got {type(interval).__name__}")
        if confidence != 0.95:
            raise CountnetsError(f"{where}: give the confidence either in interval= or as an argument, not both")
        if interval.method != IntervalConfig().method:
            raise CountnetsError(f"{where}: splitting's interval is its own (log-t over replicas); give interval= "
                                 f"only a confidence, not method={interval.method!r}")  # fmt: skip
        confidence = interval.confidence
    return keywords, confidence
