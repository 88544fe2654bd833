"""Modular subnetworks found by pruning (structural compositionality).

`masks`: the two-subroutine task, masked networks, continuous sparsification and
the ablation tests. `experiment`: the chapter's runs, figures, explorer, claims
and exercises.
"""

from .experiment import *  # noqa: F403
from .experiment import CLAIMS, EXERCISES, HEADLINES
from .masks import *  # noqa: F403

__all__ = ["CLAIMS", "EXERCISES", "HEADLINES"]
