"""Rare events: multilevel splitting on the engine, with moves that leave the prior invariant.

:mod:`~countnets.rare.splitting` (``estimate_rare``, ``sample_rare``: an adaptive pilot,
then fixed-level splitting in independent replicas), :mod:`~countnets.rare.pilot` (levels
and step sizes), :mod:`~countnets.rare.moves` (the prior-invariant moves and their
kernels) and :mod:`~countnets.rare.replicas` (the replicas' estimates, the interval and
the reliability rule's inputs).
"""
