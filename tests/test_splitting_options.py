"""``estimate_rare(..., options=SplittingOptions(...))`` and ``sample_rare(..., options=...)`` (issue 27).

The options record is the algorithm's settings in one value, as ``run_pilot`` already
took it; it also reaches ``adapt_gain``, which no keyword does. Given with an option
keyword that differs from its default, it is a one-line error.
"""

import pytest

import countnets as cn

LATTICE = cn.Lattice((-1.0, 0.0, 1.0))
ARCH = cn.MLP(3, (2,))
SMALL = {"seed": 0, "encoding": "pm1", "replicas": 8, "retry_factor": 1}


def test_options_give_the_same_run_as_the_keywords():
    by_keywords = cn.estimate_rare(LATTICE, ARCH, "0x7e", particles=100, sweeps=4, **SMALL)
    by_options = cn.estimate_rare(LATTICE, ARCH, "0x7e", options=cn.SplittingOptions(particles=100, sweeps=4), **SMALL)
    assert by_options.extra.replica_estimates == by_keywords.extra.replica_estimates
    assert by_options.config == by_keywords.config


def test_options_reach_the_adaptation_gain():
    slow = cn.estimate_rare(LATTICE, ARCH, "0x7e", options=cn.SplittingOptions(particles=100, sweeps=4, adapt_gain=0.5),
                            **SMALL)  # fmt: skip
    assert slow.config["options"]["adapt_gain"] == 0.5
    population = cn.sample_rare(LATTICE, ARCH, "0x7e", seed=0, encoding="pm1", replicas=8, retry_factor=1,
                                options=cn.SplittingOptions(particles=100, sweeps=4, adapt_gain=0.5))  # fmt: skip
    assert population.result.extra.replica_estimates == slow.extra.replica_estimates  # the same run, kept
    assert population.theta.shape == (8, 100, ARCH.n_params)


@pytest.mark.parametrize("call", [cn.estimate_rare, cn.sample_rare])
def test_options_and_a_clashing_keyword_are_one_line_errors(call):
    with pytest.raises(cn.CountnetsError, match=r"give particles, move in options= or as keywords, not both"):
        call(LATTICE, ARCH, "0x7e", particles=50, move="unit-gibbs", options=cn.SplittingOptions(particles=100))
    with pytest.raises(cn.CountnetsError, match="options must be a countnets.SplittingOptions, got dict"):
        call(LATTICE, ARCH, "0x7e", options={"particles": 100})


def test_the_integrated_readout_refuses_options():
    with pytest.raises(cn.CountnetsError, match="readout='integrate' does not take options"):
        cn.estimate_rare(cn.Gaussian(), cn.MLP(3, ()), "and", readout="integrate", options=cn.SplittingOptions())
