"""Run the how_to_use chapter (compgen.pairs) at book parameters for several seeds.

    .venv/bin/python benchmarks/pairs_seeds.py --seeds 0 1 2

Each seed is a full papermill run of chapters/how_to_use.ipynb (the same code path
as the book build), so a claim that holds here holds for the chapter, not for
a re-implementation of it. Prints every value a claim reads, whether each claim
holds, and the wall time per seed. Run nothing else meanwhile. The loop is
benchmarks/binding_seeds.py's.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from binding_seeds import main  # noqa: E402

from compgen.pairs import CLAIMS  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("how_to_use", CLAIMS, __doc__))
