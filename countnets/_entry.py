"""The ``countnets`` console script: install signal handling first, then load the command line.

Nothing heavy is imported before the handler is in place (the package root is lazy), so
an interrupt at any moment of start-up gives the documented exit code and one line:
3 for the first SIGINT/SIGTERM (nothing computed yet), 130 for a second one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

FORCED_MESSAGE = "countnets: stopped at once by a second interrupt; a checkpoint keeps its last save"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``countnets`` with ``argv`` (default ``sys.argv[1:]``); the process exit code."""
    from countnets import _signals

    with _signals.catch_signals():
        try:
            from countnets.cli import main as cli_main
        except KeyboardInterrupt:  # a second signal while JAX and the library load
            print(FORCED_MESSAGE, file=sys.stderr)
            return 130
        return cli_main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
