"""Result records: plain frozen dataclasses of Python scalars, JSON round trip, pandas.

A result holds the experiment and its full config, the seed, chunk size, samples
done, raw counts, estimates with intervals, bits of constraint, wall time and
samples/s, device kind and count, package and JAX versions (DESIGN section 7).

Result files are standard JSON (no ``Infinity`` or ``NaN`` tokens): non-finite floats
are the strings ``"inf"``, ``"-inf"`` and ``"nan"``, written by the one codec of
:mod:`countnets.records`. An experiment's payload (``extra``) is a typed record of
:mod:`countnets.results.payloads` where the kind has one; it is decoded by its type when read.
Schema 2 (this version) differs from schema 1 in that typing only: schema-1 files read
unchanged (a ``null`` where a typed payload expects a float reads as NaN).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from countnets._errors import CountnetsError, CountnetsTypeError, check_type
from countnets._io import atomic_write_text, read_json
from countnets.records import Record, StopReason, decode, encode
from countnets.results import payloads
from countnets.stats.statistics import Estimate, make_estimate

__all__ = [
    "SCHEMA_VERSION",
    "Estimate",
    "CountResult",
    "count_result",
    "make_estimate",
    "to_json",
    "from_json",
    "current_kind",
    "estimate_to_dict",
    "estimate_from_dict",
    "save_json",
    "load_json",
    "dumps",
    "to_dataframe",
    "runtime_info",
    "format_table",
]

SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)


@dataclasses.dataclass(frozen=True)
class CountResult:
    """A counting run: counts, estimates and everything needed to reproduce it.

    Attributes:
      kind: what made the result: ``"estimate-mc"`` (:func:`countnets.estimate_mc`),
        ``"estimate-splitting"`` (:func:`countnets.estimate_rare`), ``"estimate-integrated"``
        (the integrated readout), ``"histogram-mc"`` (:func:`countnets.histogram_mc`),
        ``"histogram-exact"`` (:func:`countnets.enumerate_exact`), ``"bench"``, or an
        experiment's name. Files written before these kinds said ``"estimate"`` or
        ``"histogram"``; they read back with the kinds above (:func:`current_kind`).
      config: full configuration (architecture, prior, encoding, precision, targets...).
      seed: the integer seed (``None`` for an exact enumeration, which uses none).
      chunk_size: samples per chunk, C; sample i lives in chunk ``i // C``.
      samples: samples (or configurations) done.
      exact: True for an exact lattice enumeration.
      histogram: every distinct function seen, hex to count (``None`` if not kept).
      estimates: the reported functions' estimates.
      nonfinite: networks with a NaN or infinite output (their bits read as 0).
      near_threshold: networks with some output within ``config["margin"]`` of 0.
        stopped_by: why the run stopped, a :class:`countnets.records.StopReason` (a ``str``:
        ``"samples"``, ``"rel_halfwidth"``, ``"time"``, ``"interrupted"`` or ``"exhausted"``).
      seconds: wall time of the counting loop.
      samples_per_s: ``samples / seconds``.
      device: device kind, e.g. ``"cpu"`` or ``"NVIDIA H100 80GB HBM3"``.
      device_count: number of devices used.
      versions: package versions, Python, platform and git commit.
      extra: the experiment's payload: a typed record of :mod:`countnets.results.payloads`, or
        for kinds without one (``estimate``, ``histogram``) a dict of plain JSON values
        (dicts with str keys, lists, str, int, finite float, bool, None). Either way a
        read-only mapping of field names; the JSON writes the fields at the top level,
        so a name may not be one of this record's fields (``kind``, ``config``, ...,
        ``extra``) nor ``extra_fields``: such a name raises :class:`CountnetsError`.
      schema_version: version of this record's JSON layout.
    """

    kind: str
    config: dict[str, Any]
    seed: int | None
    chunk_size: int
    samples: int
    exact: bool
    histogram: dict[str, int] | None
    estimates: tuple[Estimate, ...]
    nonfinite: int = 0
    near_threshold: int = 0
    stopped_by: StopReason | str = StopReason.SAMPLES  # stored as a StopReason
    seconds: float = 0.0
    samples_per_s: float = 0.0
    device: str = ""
    device_count: int = 1
    versions: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "stopped_by", StopReason(self.stopped_by))
        except ValueError:
            raise CountnetsError(
                f"stopped_by must be one of {[r.value for r in StopReason]}, got {self.stopped_by!r}"
            ) from None
        _check_extra_names(self.extra)

    def estimate(self, function: str | int) -> Estimate:
        """The estimate for ``function``, spelled as :func:`countnets.estimate_mc` accepts it.

        That is: the name stored in the estimate (hex table or event name), or an int
        truth table (``128``), hex with any digits' case or leading zeros (``"0x080"``)
        or a function name (``"and"``, read with the result's number of inputs).

        Raises:
          CountnetsError: if there is no such estimate (the message lists those there are);
            a ``TypeError`` too for a ``function`` that is neither ``str`` nor ``int``.
        """
        if isinstance(function, bool) or not isinstance(function, (str, int, np.integer)):
            raise CountnetsTypeError(
                f"function must be a str (hex or name) or an int truth table, got {type(function).__name__}"
            )
        for est in self.estimates:
            if est.function == function:
                return est
        key = self._table_name(function)
        for est in self.estimates:
            if key is not None and est.function == key:
                return est
        raise CountnetsError(f"no estimate for {function!r}; have {[e.function for e in self.estimates]}")

    def _table_name(self, function: str | int) -> str | None:
        """``function`` as the hex name results use, or ``None`` if it does not read as a function here."""
        from countnets.network import boolean

        arch = self.config.get("arch") if isinstance(self.config, Mapping) else None
        n = arch.get("n") if isinstance(arch, Mapping) else None
        try:
            if isinstance(function, str):
                text = function.strip()
                if n is None:
                    return boolean.to_hex(int(text, 16)) if text.lower().startswith("0x") else None
                return boolean.to_hex(boolean.parse_function(text, n))
            value = int(function)
            if value < 0 or (n is not None and value >= 2 ** (2**n)):
                return None
            return boolean.to_hex(value)
        except (CountnetsError, ValueError):
            return None


_RESERVED_EXTRA_NAMES = frozenset(f.name for f in dataclasses.fields(CountResult)) | {"extra_fields"}
"""Names an experiment field (a key of ``CountResult.extra``) may not have."""


def _check_extra_names(extra: Any) -> None:
    if not isinstance(extra, (dict, Record)):
        raise CountnetsError(
            f"a result's extra must be a payload record or a dict of experiment fields, got {type(extra).__name__}"
        )
    for name in extra:
        if not isinstance(name, str):
            raise CountnetsError(f"experiment field names must be str, got {name!r} ({type(name).__name__})")
        if name in _RESERVED_EXTRA_NAMES:
            raise CountnetsError(
                f"experiment field {name!r} clashes with the result record's own {name!r} field "
                "(experiment fields are written at the top level of the JSON); rename it"
            )


def _check_json(value: Any, where: str, *, strict: bool) -> None:
    """Refuse what standard JSON cannot hold, naming the field at ``where``.

    Non-finite floats and non-JSON types are always refused; with ``strict`` also what
    JSON would not give back unchanged (tuples, non-str keys), so that the round trip
    through :func:`to_json` and :func:`from_json` is exact.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CountnetsError(
                f"result field {where} is {value}, which standard JSON cannot hold; store it explicitly, "
                'e.g. as the string "inf", "-inf" or "nan", or as None'
            )
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) and strict:
                raise CountnetsError(f"result field {where} has the non-str key {key!r}; JSON keys are strings")
            _check_json(item, f"{where}[{key!r}]", strict=strict)
        return
    if isinstance(value, (list, tuple)):
        if isinstance(value, tuple) and strict:
            raise CountnetsError(f"result field {where} is a tuple; use a list (JSON gives back lists)")
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]", strict=strict)
        return
    raise CountnetsError(f"result field {where} has type {type(value).__name__}, which JSON cannot hold")


def _float_to_json(x: float) -> float | str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if math.isnan(x):
        return "nan"
    return x


def _float_from_json(x: float | str) -> float:
    return float(x)


def estimate_to_dict(est: Estimate) -> dict[str, Any]:
    """An :class:`Estimate` as the plain JSON values a result file holds (non-finite floats as strings)."""
    return {
        "function": est.function,
        "hits": est.hits,
        "n": est.n,
        "p": est.p,
        "ci": [est.ci[0], est.ci[1]],
        "confidence": est.confidence,
        "method": est.method,
        "bits": _float_to_json(est.bits),
        "bits_ci": [_float_to_json(est.bits_ci[0]), _float_to_json(est.bits_ci[1])],
        "log10_p": _float_to_json(est.log10_p),
    }


def estimate_from_dict(d: dict[str, Any]) -> Estimate:
    """The inverse of :func:`estimate_to_dict`: an :class:`Estimate` from a result file's plain values."""
    return Estimate(
        function=d["function"],
        hits=int(d["hits"]),
        n=int(d["n"]),
        p=float(d["p"]),
        ci=(float(d["ci"][0]), float(d["ci"][1])),
        confidence=float(d["confidence"]),
        method=d["method"],
        bits=_float_from_json(d["bits"]),
        bits_ci=(_float_from_json(d["bits_ci"][0]), _float_from_json(d["bits_ci"][1])),
        log10_p=_float_from_json(d["log10_p"]),
    )


def to_json(result: CountResult) -> dict[str, Any]:
    """The result as a JSON-ready dict of standard JSON values.

    Experiment fields (``result.extra``) are written at the top level, e.g. ``results``
    or ``counts``, and listed in ``extra_fields``; ``extra`` is written empty (older
    files may hold fields there). An estimate's infinities are the strings ``"inf"``
    and ``"-inf"``; ``from_json(to_json(result)) == result``.

    Raises:
      CountnetsError: for an experiment field named like a record field (or
        ``extra_fields``), a non-finite float anywhere else, or a value JSON cannot
        hold (in ``extra``: also a tuple or a non-str key, which would not read back
        unchanged); the message names the field; a ``TypeError`` too for a ``result``
        that is not a :class:`CountResult`.
    """
    _check_result(result, "to_json")
    _check_extra_names(result.extra)
    out = dataclasses.asdict(dataclasses.replace(result, extra={}))
    out["estimates"] = [estimate_to_dict(e) for e in result.estimates]
    out["stopped_by"] = result.stopped_by.value
    out.pop("extra")
    for name, value in out.items():
        _check_json(value, name, strict=False)
    if isinstance(result.extra, Record):
        extra = encode(result.extra)
    else:
        extra = dict(result.extra)
        for name, value in extra.items():
            _check_json(value, name, strict=True)
    out["extra"] = {}
    out["extra_fields"] = list(extra)
    out.update(extra)
    return out


def current_kind(kind: str, extra: Mapping[str, Any], exact: bool) -> str:
    """The kind a result has now, for a kind read from a file (older files said less about what made them).

    ``"estimate"`` becomes ``"estimate-splitting"`` or ``"estimate-integrated"`` by its payload's
    ``method``, else ``"estimate-mc"``; ``"histogram"`` becomes ``"histogram-exact"`` for an
    enumeration, else ``"histogram-mc"``. Every other kind is returned as it is.

    >>> current_kind("estimate", {"method": "splitting"}, False), current_kind("histogram", {}, True)
    ('estimate-splitting', 'histogram-exact')
    """
    if kind == "estimate":
        return {"splitting": "estimate-splitting", "integrate": "estimate-integrated"}.get(extra.get("method"),
                                                                                          "estimate-mc")  # fmt: skip
    if kind == "histogram":
        return "histogram-exact" if exact else "histogram-mc"
    return kind


def from_json(data: Any) -> CountResult:
    """Inverse of :func:`to_json`; refuses an unknown ``schema_version`` or a malformed record.

    Reads schema 1 and 2, and the kinds older files carry (:func:`current_kind`). A kind with a
    payload type (:func:`countnets.results.payloads.payload_type`) gets its ``extra`` decoded as
    that record, which refuses missing, unknown or mistyped fields, naming the path of the first one.
    """
    if not isinstance(data, dict):
        raise CountnetsError(f"a result record must be a JSON object, got {type(data).__name__}")
    version = data.get("schema_version")
    if version not in READABLE_SCHEMA_VERSIONS:
        raise CountnetsError(
            f"unsupported result schema_version {version!r}; this countnets reads {list(READABLE_SCHEMA_VERSIONS)}"
        )
    fields = {f.name for f in dataclasses.fields(CountResult)}
    try:
        kwargs = {k: v for k, v in data.items() if k in fields}
        kwargs["estimates"] = tuple(estimate_from_dict(e) for e in data["estimates"])
        extra = {**data.get("extra", {}), **{name: data[name] for name in data.get("extra_fields", [])}}
        kwargs["kind"] = kind = current_kind(str(data.get("kind")), extra, bool(data.get("exact")))
        typed = payloads.payload_type(kind, extra)
        kwargs["extra"] = extra if typed is None else decode(typed, extra, kind)
        kwargs["schema_version"] = SCHEMA_VERSION
        return CountResult(**kwargs)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        raise CountnetsError(f"malformed result record: {type(err).__name__}: {err}") from None


def _check_result(result: Any, where: str) -> CountResult:
    """``result`` if it is a :class:`CountResult`; else a ``CountnetsTypeError`` saying what was received."""
    hint = ""
    if isinstance(result, dict):
        hint = "; a result's JSON dict reads back with countnets.results.from_json"
    elif isinstance(result, (str, os.PathLike)):
        hint = "; read a saved result first with countnets.load_json"
    return check_type(result, CountResult, "result", "a countnets.CountResult", where=where, hint=hint)


def _check_path(path: Any, where: str) -> str | os.PathLike:
    """``path`` if it is a ``str`` or ``os.PathLike``; else a ``CountnetsTypeError`` saying what was received."""
    return check_type(path, (str, os.PathLike), "path", "a file path (str or os.PathLike)", where=where)


def save_json(result: CountResult, path: str | os.PathLike) -> Path:
    """Write the result to ``path`` atomically (temporary file, fsync, rename) as standard JSON.

    A symlink is written through to its target; a destination that exists and is not a
    regular file (directory, FIFO, device) is refused and left as it is (see
    :func:`countnets._io.atomic_write_bytes`). Returns the file written.

    Raises:
      CountnetsError: for what :func:`to_json` refuses, or a destination that is not a
        regular file; nothing is written then. A failed write (e.g. a full disk) raises
        its subclass ``countnets._io.WriteError`` naming ``path``. A ``result`` that is
        not a :class:`CountResult`, or a ``path`` that is not a path, is also a ``TypeError``.
    """
    _check_result(result, "save_json")
    _check_path(path, "save_json")
    return atomic_write_text(path, dumps(result), "result")


def dumps(result: CountResult) -> str:
    """The JSON text :func:`save_json` writes (standard JSON, one trailing newline)."""
    return json.dumps(to_json(result), indent=1, allow_nan=False) + "\n"


def load_json(path: str | os.PathLike) -> CountResult:
    """Read a result written by :func:`save_json`.

    Raises:
      CountnetsError: for a missing, non-regular, oversized, non-UTF-8 or malformed file;
        the one-line message starts with the path. A ``path`` that is not a ``str`` or
        ``os.PathLike`` is also a ``TypeError``.
    """
    shown = os.fspath(_check_path(path, "load_json"))
    data = read_json(path, "result")
    try:
        return from_json(data)
    except CountnetsError as err:
        raise CountnetsError(f"result {shown!r}: {err}") from None


def to_dataframe(result: CountResult):  # -> pandas.DataFrame
    """One row per estimate: function, hits, n, p, ci_lo, ci_hi, bits, log10_p, ...

    Run-level fields (kind, seed, samples, exact, chunk_size) are repeated on each row.

    Raises:
      CountnetsError: (a ``TypeError`` too) for a ``result`` that is not a :class:`CountResult`.
    """
    _check_result(result, "to_dataframe")
    import pandas as pd

    rows = []
    for e in result.estimates:
        rows.append(
            {
                "function": e.function,
                "hits": e.hits,
                "n": e.n,
                "p": e.p,
                "ci_lo": e.ci[0],
                "ci_hi": e.ci[1],
                "confidence": e.confidence,
                "method": e.method,
                "bits": e.bits,
                "bits_lo": e.bits_ci[0],
                "bits_hi": e.bits_ci[1],
                "log10_p": e.log10_p,
                "kind": result.kind,
                "seed": result.seed,
                "samples": result.samples,
                "exact": result.exact,
                "chunk_size": result.chunk_size,
            }
        )
    return pd.DataFrame(rows)


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def count_result(
    kind: str,
    config: dict,
    *,
    seed: int | None,
    samples: int,
    seconds: float,
    device_count: int,
    extra: Any = None,
    estimates: Sequence[Estimate] = (),
    histogram: dict[str, int] | None = None,
    exact: bool = False,
    chunk_size: int = 0,
    nonfinite: int = 0,
    near_threshold: int = 0,
    stopped_by: StopReason | str = StopReason.SAMPLES,
    samples_per_s: float | None = None,
) -> CountResult:
    """The one constructor of a run's :class:`CountResult`: the device and the versions are filled in here.

    ``samples_per_s`` defaults to ``samples / seconds`` (0 when no time passed);
    ``device_count`` is the number of devices the run used. :func:`from_json` rebuilds a
    saved result with the device and versions it records instead.
    """
    import jax  # the device the run used (this module itself loads no JAX)

    rate = samples_per_s if samples_per_s is not None else (samples / seconds if seconds > 0 else 0.0)
    return CountResult(
        kind=kind, config=config, seed=seed, chunk_size=chunk_size, samples=samples, exact=exact, histogram=histogram,
        estimates=tuple(estimates), nonfinite=nonfinite, near_threshold=near_threshold, stopped_by=stopped_by,
        seconds=seconds, samples_per_s=rate, device=str(jax.devices()[0].device_kind), device_count=device_count,
        versions=runtime_info(), extra={} if extra is None else extra,
    )  # fmt: skip


def runtime_info() -> dict[str, Any]:
    """Versions of countnets, JAX, jaxlib, NumPy, SciPy, Python; platform; git commit."""
    import jax
    import jaxlib
    import numpy
    import scipy

    from countnets._version import __version__

    return {
        "countnets": __version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
    }


def _fmt_p(x: float) -> str:
    return f"{x:.3e}" if x != 0 else "0"


def _format_splitting(result: CountResult) -> str:
    """The terminal table of a splitting estimate: the replicas, levels and cost, not samples and hits."""
    x, (e,) = result.extra, result.estimates
    bound = x["interval"] == "upper-bound"
    rows = [
        ["function", "p", f"{e.confidence:.3g} " + ("upper bound" if bound else "interval (log-t)"), "bits",
         "replicas reaching it", "relative error"],
        [e.function, _fmt_p(e.p), _fmt_p(e.ci[1]) if bound else f"[{_fmt_p(e.ci[0])}, {_fmt_p(e.ci[1])}]",
         f"{e.bits:.3f}", f"{e.hits:,} of {e.n:,}", f"{x['relative_error']:.3g}"],
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    acceptance = [level["acceptance"] for level in x["levels"] if level["alive"]]
    head = (
        f"estimate by splitting: {e.n:,} replicas x {x['particles']:,} particles, seed {result.seed}; "
        f"{x['n_levels']} level{'s' if x['n_levels'] != 1 else ''} ({x['move']} moves, {x['sweeps']} sweeps per level);"
        f" {result.seconds:.1f} s "
        f"on {result.device_count} x {result.device}"
    )
    tail = [f"network evaluations {x['evaluations']:.3g}"]
    if acceptance:
        tail.append(f"acceptance per level {min(acceptance):.2f}..{max(acceptance):.2f}")
    if not bound and math.isfinite(x["mc_equivalent_evaluations"]):
        tail.append(
            f"plain Monte Carlo would need {x['mc_equivalent_evaluations']:.3g} for this relative error "
            f"({x['speedup']:.3g}x the evaluations used)"
        )
    if bound:
        tail.append("no replica reached the event: the interval is an upper bound, not an estimate")
    return head + "\n" + "\n".join(lines) + "\n" + "; ".join(tail)


def format_table(result: CountResult, top: int | None = None) -> str:
    """A plain-text table of the estimates, for the terminal (a splitting estimate gets its own)."""
    if isinstance(result.extra, payloads.SplittingPayload):
        return _format_splitting(result)
    ests = result.estimates if top is None else result.estimates[:top]
    level = f"{ests[0].confidence:.3g}" if ests else ""
    header = ["function", "hits", "p", f"{level} interval", "bits", "bits interval"]
    rows = [header]
    for e in ests:
        rows.append(
            [
                e.function,
                f"{e.hits:,}",
                _fmt_p(e.p),
                "exact" if e.method == "exact" else f"[{_fmt_p(e.ci[0])}, {_fmt_p(e.ci[1])}]",
                f"{e.bits:.3f}",
                "exact" if e.method == "exact" else f"[{e.bits_ci[0]:.3f}, {e.bits_ci[1]:.3f}]",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    mode = "exact enumeration" if result.exact else f"{result.samples:,} samples, seed {result.seed}"
    ckpt = result.extra.get("checkpoint") if isinstance(result.extra, Mapping) else None
    resumed = int(ckpt.get("resumed_from") or 0) if isinstance(ckpt, Mapping) else 0
    if resumed:  # this invocation's time and rate, not the totals'
        mode += f" (resumed from {resumed:,})"
        timing = f"this run {result.seconds:.1f} s ({result.samples_per_s:.3g} nets/s)"
    else:
        timing = f"{result.seconds:.1f} s ({result.samples_per_s:.3g} nets/s)"
    summary = f"{result.kind}: {mode}; chunk size {result.chunk_size}; {timing}"
    summary += f" on {result.device_count} x {result.device}"
    if result.histogram is not None:
        summary += f"; {len(result.histogram)} distinct functions"
    if result.nonfinite:
        summary += f"; {result.nonfinite} non-finite outputs"
    return summary + "\n" + "\n".join(lines)
