"""Statistics without JAX: intervals, the reliability rule, tolerances, censored regression.

Nothing here imports JAX (tests/test_layers.py): :mod:`~countnets.stats.statistics`
(binomial intervals, ratios, tests), :mod:`~countnets.stats.reliability` (effective
replicas and the rule that decides "determined"), :mod:`~countnets.stats.tolerance` (the
agreement rule of regenerated tables), :mod:`~countnets.stats.censored` (interval-censored
regression of the flip experiments).
"""
