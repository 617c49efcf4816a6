"""Deprecated import path: ``import furiosa.runtime.tensor`` warns; ``from furiosa.runtime import tensor`` does not."""
import warnings

warnings.warn(
    "'furiosa.runtime.tensor' module is deprecated and will be removed in a future release.",
    FutureWarning,
    stacklevel=2,
)

from ._tensor import *  # noqa: E402,F401,F403
from ._tensor import __all__  # noqa: E402,F401
