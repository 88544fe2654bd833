"""Linearized subgraph matching: a tiny transformer multiplies, and its errors
compound (Dziri et al. 2023, "Faith and Fate").

`multiplication`: the computation graph of a x b, its scratchpad and parser.
`model`: the character transformer's data, training and batched decoding.
`training`: the split, the training run, the committed checkpoints (and a CLI).
`analysis`: the error taxonomy, the (1 - eps)^k fit, subgraph frequencies.
`experiment`: the chapter's run, claims and exercises. `figures`: its figures
and the graph explorer.
"""

from .analysis import *  # noqa: F403
from .experiment import *  # noqa: F403
from .experiment import CLAIMS, EXERCISES, HEADLINES
from .model import *  # noqa: F403
from .multiplication import *  # noqa: F403
from .training import *  # noqa: F403

__all__ = ["CLAIMS", "EXERCISES", "HEADLINES"]
