"""Deprecated import path: ``import furiosa.runtime.model`` warns; ``from furiosa.runtime import model`` does not."""
import warnings

warnings.warn(
    "'furiosa.runtime.model' module is deprecated and will be removed in a future release.",
    FutureWarning,
    stacklevel=2,
)

from ._types import *  # noqa: E402,F401,F403
from ._types import __all__  # noqa: E402,F401
