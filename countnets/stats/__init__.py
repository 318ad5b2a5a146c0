"""Statistics without JAX: intervals, the reliability rule, tolerances.

Nothing here imports JAX (tests/test_layers.py): :mod:`~countnets.stats.statistics`
(binomial intervals, ratios, tests), :mod:`~countnets.stats.multiplicity` (p-value
adjustments), :mod:`~countnets.stats.distributions` (two distributions over functions
compared), :mod:`~countnets.stats.combinations` (independent estimates combined: signed
sums and their ratios), :mod:`~countnets.stats.reliability` (effective replicas and the rule that
decides "determined") and :mod:`~countnets.stats.tolerance` (the agreement rule of
regenerated tables).
"""
