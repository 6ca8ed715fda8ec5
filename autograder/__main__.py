"""``python -m autograder``: the command line."""

from .cli import main

raise SystemExit(main())
