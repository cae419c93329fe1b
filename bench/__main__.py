"""`python -m bench`: run every benchmark, print the table, exit non-zero when one fails."""

import sys

from bench.run import main

sys.exit(main())
