"""What a network is: the Boolean cube, priors, architectures and their parameter layouts.

:mod:`~countnets.network.boolean` (cube points, truth tables, names),
:mod:`~countnets.network.layout` (flat parameter vectors), :mod:`~countnets.network.priors`
(Gaussian, Uniform, Lattice), :mod:`~countnets.network.architectures` (MLP, ResMLP, GoalNet)
and :mod:`~countnets.network.symmetry` (symmetries of functions). The layers above use these.
"""
