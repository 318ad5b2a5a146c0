"""Experiments built on the engine, one module each, and their public registry.

Each module holds its library entry point (for example
:func:`countnets.experiments.serial_parallel.serial_parallel`), a formatter for its
result, and its result ``KIND``; no experiment imports another. What two experiments
share lives below them (:mod:`countnets.results.report`, :mod:`countnets.engine.passes`,
:mod:`countnets.train.training_results`).

The registry (:class:`Experiment`, :func:`register`, :func:`registered`, :func:`get`,
:func:`unregister`) is defined in :mod:`countnets._registry`, below the results layer that
reads it, and is public here:

>>> import countnets as cn
>>> [e.name for e in cn.experiments.registered()][:3]
['basin', 'composition', 'detour']
"""

from countnets._registry import Experiment, LazyAttribute, get, register, registered, unregister

__all__ = ["Experiment", "LazyAttribute", "register", "registered", "get", "unregister"]
