"""`python -m compgen.subgraph_matching ...`: see its `training` module;
`python -m compgen.subgraph_matching grid ...`: see its `scaling` module."""

import sys

if sys.argv[1:2] == ["grid"]:
    from .scaling import main

    sys.exit(main(sys.argv[2:]))
from .training import main

sys.exit(main())
