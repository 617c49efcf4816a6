"""Typing aliases of the runtime API (``Tensor``, ``TensorArray``, ``ModelSource``)."""
from __future__ import annotations

import os
from typing import List, SupportsBytes, Union

import numpy as np

Tensor = Union[np.ndarray, np.generic]
TensorArray = List[Union[np.ndarray, np.generic]]
ModelSource = Union[str, os.PathLike, bytes, SupportsBytes]
