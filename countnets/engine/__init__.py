"""The counting engine: sources of prior draws, jitted steps, accumulators, the chunk driver and front ends.

A prior draw becomes a count in this order: :mod:`~countnets.engine.sources` (chunk
``i`` of seed ``s``, the same on any batching) -> :mod:`~countnets.engine.steps` (one
jitted step: draw, evaluate the measure, reduce) -> :mod:`~countnets.engine.accumulators`
(counts or histograms on the host) -> :mod:`~countnets.engine.driver` (chunks, stop
rules, progress, :mod:`~countnets.engine.checkpoint`, :mod:`~countnets.engine.sharding`).
The front ends are :mod:`~countnets.engine.estimators` (plain Monte Carlo, exact
enumeration, histograms) and :mod:`~countnets.engine.integrate` (the readout's Gaussian
cone mass, :mod:`~countnets.engine.cones`); :mod:`~countnets.engine.passes` runs one
counting pass per architecture for the circuit experiments.
"""
