"""`python -m compgen.subgraph_matching ...`: see compgen.subgraph_matching.training."""

import sys

from .training import main

sys.exit(main())
