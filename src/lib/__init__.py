"""compgen: the library behind the executable book on compositional generalization.

Each chapter has a module (`compgen.binding`, `compgen.coverage`, ...); the pieces
they share live in `compgen.core` and are re-exported here.
"""

from .core import *  # noqa: F401,F403
from .core import __all__ as _core_all

__version__ = "0.1.0"
__all__ = list(_core_all)
