"""Modular subnetworks found by pruning (structural compositionality).

`masks`: the two-subroutine task, masked networks, continuous sparsification and
the ablation tests. `family`: the many related tasks of broad pretraining.
`batched`: many seeds trained and pruned at once as one stacked model.
`experiment`: the chapter's runs, figures, explorer, claims and exercises.
"""

from .batched import *  # noqa: F403
from .experiment import *  # noqa: F403
from .experiment import CLAIMS, EXERCISES, HEADLINES
from .family import *  # noqa: F403
from .masks import *  # noqa: F403

__all__ = ["CLAIMS", "EXERCISES", "HEADLINES"]
