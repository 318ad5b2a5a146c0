"""Experiments built on the engine: each module is a measure plus a summary, never a new engine.

Each module holds its library entry point (for example
:func:`countnets.experiments.serial_parallel.serial_parallel`), a formatter for its
result, and its result ``KIND``. Argument parsing lives in :mod:`countnets.cli`, which
imports the experiments; no experiment imports another or the command line. What two
experiments share lives below them (:mod:`countnets.report`, :mod:`countnets.passes`,
:mod:`countnets.training_results`).
"""
