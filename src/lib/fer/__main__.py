"""`python -m compgen.fer grid ...`: see compgen.fer.scaling."""

import sys

if sys.argv[1:2] != ["grid"]:
    sys.exit("usage: python -m compgen.fer grid [--seeds 0 1 2]")
from .scaling import main

sys.exit(main(sys.argv[2:]))
