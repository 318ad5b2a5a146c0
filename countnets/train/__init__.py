"""Training against the prior: optax trainers, training sets, the conditional prior and the tilted prior.

:mod:`~countnets.train.trainer` (vmapped optax loops), :mod:`~countnets.train.training`
(training sets and trained functions), :mod:`~countnets.train.conditional` (the prior
conditioned on fitting S, and tilted toward a policy), and
:mod:`~countnets.train.training_results` and :mod:`~countnets.train.plots` (the records and
figures the training experiments share).
"""
