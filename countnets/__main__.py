"""``python -m countnets``: the command-line interface."""

from countnets.cli import main

raise SystemExit(main())
