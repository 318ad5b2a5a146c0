"""One shape for every front end (issue 27): ``f(prior, arch, measure(s), *, run=, options=, interval=)``.

Each record gives the same run as the keywords it stands for; a record given beside a keyword
it covers, or a value of another type, is a one-line error; and today's keyword calls still work.
"""

import numpy as np
import pytest

import countnets as cn

LATTICE = cn.Lattice((-1.0, 0.0, 1.0))
ARCH = cn.MLP(3, (2,))
SPLIT = {"encoding": "pm1", "retry_factor": 1, "particles": 100, "sweeps": 4}


def test_estimate_rare_run_and_interval_give_the_keywords_run():
    by_keywords = cn.estimate_rare(LATTICE, ARCH, "0x7e", seed=3, replicas=8, replicas_per_chunk=4, confidence=0.9,
                                   **SPLIT)  # fmt: skip
    by_records = cn.estimate_rare(LATTICE, ARCH, "0x7e", run=cn.RunConfig(n_samples=8, seed=3, chunk_size=4),
                                  interval=cn.IntervalConfig(confidence=0.9), **SPLIT)  # fmt: skip
    assert by_records.extra.replica_estimates == by_keywords.extra.replica_estimates
    assert by_records.estimates == by_keywords.estimates and by_records.config == by_keywords.config
    # RunConfig's default chunk size (sized for networks) means the splitting default; results never depend on it.
    default_chunks = cn.estimate_rare(LATTICE, ARCH, "0x7e", run=cn.RunConfig(n_samples=8, seed=3), confidence=0.9,
                                      **SPLIT)  # fmt: skip
    assert default_chunks.chunk_size == 4 and default_chunks.estimates == by_keywords.estimates


def test_sample_rare_takes_a_run_with_its_own_fields_only():
    kept = cn.sample_rare(LATTICE, ARCH, "0x7e", run=cn.RunConfig(n_samples=8, seed=3, chunk_size=4), **SPLIT)
    by_keywords = cn.sample_rare(LATTICE, ARCH, "0x7e", seed=3, replicas=8, **SPLIT)
    np.testing.assert_array_equal(kept.theta, by_keywords.theta)
    with pytest.raises(cn.CountnetsError, match=r"^sample_rare does not take run.max_seconds, run.progress; leave"):
        cn.sample_rare(LATTICE, ARCH, "0x7e", run=cn.RunConfig(n_samples=8, max_seconds=5.0, progress=True), **SPLIT)


@pytest.mark.parametrize("call", [cn.estimate_rare, cn.sample_rare])
def test_splitting_records_beside_their_keywords_or_of_another_type_are_one_line_errors(call):
    run = cn.RunConfig(n_samples=8)
    with pytest.raises(cn.CountnetsError, match=r"give run options either in run= or as arguments, not both \(seed\)"):
        call(LATTICE, ARCH, "0x7e", run=run, seed=1)
    with pytest.raises(cn.CountnetsError, match="run must be a countnets.RunConfig, got dict"):
        call(LATTICE, ARCH, "0x7e", run={"n_samples": 8})
    with pytest.raises(cn.CountnetsError, match="give the confidence either in interval= or as an argument, not both"):
        call(LATTICE, ARCH, "0x7e", interval=cn.IntervalConfig(0.9), confidence=0.99)
    with pytest.raises(cn.CountnetsError, match="splitting's interval is its own .* not method='wilson'"):
        call(LATTICE, ARCH, "0x7e", interval=cn.IntervalConfig(0.9, "wilson"))


def test_estimate_mc_and_histogram_mc_take_an_interval_record():
    kw = {"n_samples": 4096, "seed": 1, "encoding": "pm1"}
    for call, args in ((cn.estimate_mc, (["0x7e"],)), (cn.histogram_mc, ())):
        by_keywords = call(LATTICE, ARCH, *args, confidence=0.99, method="wilson", **kw)
        by_record = call(LATTICE, ARCH, *args, interval=cn.IntervalConfig(0.99, "wilson"), **kw)
        assert by_record.estimates == by_keywords.estimates and by_record.config == by_keywords.config
        with pytest.raises(cn.CountnetsError, match=r"give interval options either in interval= or as arguments, "
                                                    r"not both \(method\)"):  # fmt: skip
            call(LATTICE, ARCH, *args, interval=cn.IntervalConfig(0.99), method="jeffreys", **kw)
        with pytest.raises(cn.CountnetsError, match="interval must be a countnets.IntervalConfig, got float"):
            call(LATTICE, ARCH, *args, interval=0.99, **kw)


def test_an_interval_record_is_checked_when_made():
    with pytest.raises(cn.CountnetsError, match=r"confidence must be in \(0, 1\), got 1.5"):
        cn.IntervalConfig(1.5)
    with pytest.raises(cn.CountnetsError, match="unknown interval method 'exact-ish'"):
        cn.IntervalConfig(0.95, "exact-ish")


def test_enumerate_exact_takes_a_run_record():
    whole = cn.enumerate_exact(LATTICE, ARCH, encoding="pm1", top=None, chunk_size=243)
    total = 3**ARCH.n_params
    by_record = cn.enumerate_exact(LATTICE, ARCH, encoding="pm1", top=None, run=cn.RunConfig(n_samples=total,
                                                                                          chunk_size=243))  # fmt: skip
    assert by_record.histogram == whole.histogram and by_record.estimates == whole.estimates
    # Part of the lattice: its counts are lower bounds, and each interval covers the configurations left.
    part = cn.enumerate_exact(LATTICE, ARCH, encoding="pm1", top=None, run=cn.RunConfig(n_samples=243 * 10,
                                                                                     chunk_size=243))  # fmt: skip
    assert part.samples == 243 * 10 and part.stopped_by != "exhausted"
    exact = {e.function: e.p for e in whole.estimates}
    for est in part.estimates:
        assert est.ci[0] <= exact[est.function] <= est.ci[1]
    with pytest.raises(cn.CountnetsError, match=f"at most {total:,}; got {total + 1:,}"):
        cn.enumerate_exact(LATTICE, ARCH, run=cn.RunConfig(n_samples=total + 1))
    with pytest.raises(cn.CountnetsError, match="enumerate_exact draws nothing: leave run.seed at 0"):
        cn.enumerate_exact(LATTICE, ARCH, run=cn.RunConfig(n_samples=total, seed=4))
    with pytest.raises(cn.CountnetsError, match=r"not both \(chunk_size\)"):
        cn.enumerate_exact(LATTICE, ARCH, chunk_size=81, run=cn.RunConfig(n_samples=total))


def test_enumerate_exact_where_counts_the_joint_event_exactly():
    # P(f and fits(S)) from the restricted enumeration equals the unrestricted histogram summed over the functions
    # that agree with S: the restriction drops exactly the configurations outside the event.
    whole = cn.enumerate_exact(LATTICE, ARCH, encoding="pm1", top=None, max_distinct=None)
    points, labels = [0, 3, 5], [True, False, True]
    fits = cn.measures.fits(points, labels)
    joint = cn.enumerate_exact(LATTICE, ARCH, encoding="pm1", top=None, max_distinct=None, where=fits)
    agree = {f: c for f, c in whole.histogram.items()
             if all((int(f, 16) >> x) & 1 == y for x, y in zip(points, labels, strict=True))}  # fmt: skip
    assert joint.histogram == agree and sum(agree.values()) > 0
    assert joint.config["where"] == fits.spec
    only_f = cn.enumerate_exact(LATTICE, ARCH, encoding="pm1", top=None, where="0x7e")
    assert only_f.histogram == {"0x7e": whole.histogram["0x7e"]}
