"""Deprecated import path: ``import furiosa.runtime.envs`` warns; ``from furiosa.runtime import envs`` does not."""
import warnings

warnings.warn(
    "'furiosa.runtime.envs' module is deprecated and will be removed in a future release.",
    FutureWarning,
    stacklevel=2,
)

from ._envs import *  # noqa: E402,F401,F403
from ._envs import __all__  # noqa: E402,F401
