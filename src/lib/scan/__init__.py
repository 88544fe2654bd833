"""SCAN: what compositional generalization is, where seq2seq fails, what composes.

`grammar`: the commands, their interpretation and the splits. `model`: a small
transformer encoder-decoder. `episodes`: token ids and metalearning episodes.
`training`: training and exact-match evaluation. `reference`: the committed
models. `experiment`: the chapter's runs, claims, exercises. `figures`: its
figures and explorers.
"""

from . import model  # noqa: F401
from .episodes import EpisodeSampler  # noqa: F401
from .experiment import *  # noqa: F403
from .experiment import CLAIMS, EXERCISES, HEADLINES
from .figures import *  # noqa: F403
from .grammar import commands, interpret, split  # noqa: F401
from .reference import load_reference, read_record  # noqa: F401
from .training import *  # noqa: F403

__all__ = ["CLAIMS", "EXERCISES", "HEADLINES", "commands", "interpret", "split"]
