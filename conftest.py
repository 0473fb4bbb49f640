"""The suite runs twice: as users have JAX, and with ``JAX_ENABLE_X64=1``.

Documentation examples (README and docstrings) show default-precision output, so they run in
the first pass only.
"""

import jax
import pytest


def pytest_collection_modifyitems(config, items):
    if not jax.config.jax_enable_x64:
        return
    skip = pytest.mark.skip(reason="examples show default (float32) output")
    for item in items:
        if isinstance(item, pytest.DoctestItem):
            item.add_marker(skip)
