"""`python -m roomcast.entrypoints.cli.main`: the `roomcast` command."""

import sys

from roomcast.entrypoints.cli.main import main

sys.exit(main())
