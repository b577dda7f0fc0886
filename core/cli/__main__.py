"""`python -m mlp_studio.core.cli`: the command line without the app's entry point."""

import sys

from mlp_studio.core.cli import main

sys.exit(main())
