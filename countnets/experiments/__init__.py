"""Experiments built on the core engine; each module here is a ``countnets experiment`` subcommand.

A module registers itself by defining:

* ``COMMAND``: the subcommand name, e.g. ``"serial-parallel"``;
* ``add_parser(subparsers) -> argparse.ArgumentParser``: adds its parser;
* ``run(args) -> int``: runs it from parsed arguments and returns the exit code
  (raising :class:`countnets.CountnetsError` for bad input).

Modules are discovered by name, so adding an experiment touches no shared file.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["experiment_modules"]


def experiment_modules() -> list[ModuleType]:
    """Every experiment module in this package that defines ``COMMAND``, sorted by command name."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "COMMAND"):
            found.append(module)
    return sorted(found, key=lambda m: m.COMMAND)
