"""Training against the prior: optax trainers, training sets, the conditional prior and the tilted prior.

:mod:`~countnets.train.trainer` (vmapped optax loops), :mod:`~countnets.train.training`
(training sets and trained functions), :mod:`~countnets.train.conditional` (the prior
conditioned on fitting S), :mod:`~countnets.train.smc` (the tilted prior by SMC),
:mod:`~countnets.train.rare_pairs` (rare policies B by splitting),
:mod:`~countnets.train.training_results` and :mod:`~countnets.train.plots` (the training
experiments' records and figures).
"""
