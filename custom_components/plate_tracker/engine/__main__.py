"""``python -m custom_components.plate_tracker.engine``: see ``cli.main``."""

import sys

from .cli import main

sys.exit(main())
