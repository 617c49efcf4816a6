"""Deprecated import path: ``import furiosa.runtime.session`` warns; ``from furiosa.runtime import session`` does not."""
import warnings

warnings.warn(
    "'furiosa.runtime.session' module is deprecated and will be removed in a future release.",
    FutureWarning,
    stacklevel=2,
)

from ._legacy import *  # noqa: E402,F401,F403
from ._legacy import __all__  # noqa: E402,F401
