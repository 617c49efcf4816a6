"""Fixtures of the TFLite tests (LiteRT, from the ``test`` extra, is required; tests skip without it)."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded by the test's name, so every parametrization gets its own data."""
    seed = sum(ord(c) * (i + 1) for i, c in enumerate(request.node.nodeid)) % 2**32
    return np.random.default_rng(seed)
