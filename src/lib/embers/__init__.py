"""Embers of autoregression: predicting where a network fails from probability.

`language`: a Zipfian synthetic language with exact sentence probabilities.
`cipher`: shift ciphers, the training mixture, characters to tokens.
`training`: the book's transformer trained on the mixture, greedy decoding
scored per condition. `scaling`: the width grid, trained by
`python -m compgen.embers grid`, committed small and scored afresh.
"""

from .cipher import *  # noqa: F403
from .experiment import *  # noqa: F403
from .experiment import CLAIMS, EXERCISES, HEADLINES
from .figures import *  # noqa: F403
from .language import *  # noqa: F403
from .saved import *  # noqa: F403
from .scaling import *  # noqa: F403
from .training import *  # noqa: F403

__all__ = ["CLAIMS", "EXERCISES", "HEADLINES"]
