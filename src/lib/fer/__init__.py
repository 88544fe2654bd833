"""Fractured entangled representations: one image, two networks, broken insides.

`cppn`: the compositional pattern-producing network and its rendering.
`factored`: the face composed from parts (our stand-in for a Picbreeder genome).
`probes`: SGD fitting, weight sweeps, the fracture measures, adaptation.
`experiment`: the chapter's runs, claims and exercises. `figures`: its figures
and the weight-sweep explorer.
"""

from .cppn import *  # noqa: F403
from .experiment import *  # noqa: F403
from .experiment import CLAIMS, EXERCISES, HEADLINES
from .factored import *  # noqa: F403
from .figures import *  # noqa: F403
from .probes import *  # noqa: F403

__all__ = ["CLAIMS", "EXERCISES", "HEADLINES"]
