"""The standard counting suite (``countnets bench``): named tasks, each a measurement beside a reference.

Placeholder while the package is built.
"""

from countnets.bench import engine_tasks as engine_tasks
from countnets.bench import experiment_tasks as experiment_tasks
from countnets.bench import published_tasks as published_tasks
from countnets.bench.registry import run_tasks, suite_tasks


def run(suite="quick", only=None, seed=0):
    return run_tasks(suite_tasks(suite, only), suite=suite, seed=seed)
