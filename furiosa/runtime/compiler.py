"""Deprecated import path: ``import furiosa.runtime.compiler`` warns; ``from furiosa.runtime import compiler`` does not."""
import warnings

warnings.warn(
    "'furiosa.runtime.compiler' module is deprecated and will be removed in a future release.",
    FutureWarning,
    stacklevel=2,
)

from ._compiler import *  # noqa: E402,F401,F403
from ._compiler import __all__  # noqa: E402,F401
