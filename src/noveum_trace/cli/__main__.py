"""``python -m noveum_trace.cli``."""

from noveum_trace.cli.main import main

raise SystemExit(main())
