"""Deprecated import path: ``import furiosa.runtime.errors`` warns; ``from furiosa.runtime import errors`` does not."""
import warnings

warnings.warn(
    "'furiosa.runtime.errors' module is deprecated and will be removed in a future release.",
    FutureWarning,
    stacklevel=2,
)

from ._errors import *  # noqa: E402,F401,F403
from ._errors import __all__  # noqa: E402,F401
