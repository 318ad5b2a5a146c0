"""``python -m countnets``: the command-line interface (signal handling first, see countnets._entry)."""

from countnets._entry import main

raise SystemExit(main())
