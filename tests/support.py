"""Shared dtypes, test points and the one tolerance table the tests draw from.

The suite runs twice: as users have it (``jax_enable_x64`` off) and with ``JAX_ENABLE_X64=1``.
float64 cases are skipped in the first run; everything else runs in both.
"""

import hashlib
import inspect
import pathlib

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from jaxsig import testing

X64 = bool(jax.config.jax_enable_x64)

HALF_DTYPES = [np.float16, ml_dtypes.bfloat16]
FULL_DTYPES = [np.float32, np.float64]
ALL_DTYPES = HALF_DTYPES + FULL_DTYPES


def dtype_param(dtypes):
    """Parametrize over dtypes; float64 is skipped unless x64 is enabled."""
    marks = pytest.mark.skipif(not X64, reason="float64 needs JAX_ENABLE_X64=1")
    return pytest.mark.parametrize(
        "dtype",
        [pytest.param(d, marks=marks) if d == np.float64 else d for d in dtypes],
        ids=lambda d: np.dtype(d).name,
    )


def eps(dtype) -> float:
    return float(ml_dtypes.finfo(np.dtype(dtype)).eps)


# Closed form vs autodiff: both evaluate the same sums in a different order. Each entry is a
# multiple of eps that bounds that reordering over the test problems' sizes (n <= 64 rows,
# entries O(1)), relative to the largest derivative entry. Half precision is coarser because
# the two paths round intermediate products to 8 or 11 bits at different points.
DERIVATIVE_RTOL = {
    np.dtype(np.float16): 16 * eps(np.float16),
    np.dtype(ml_dtypes.bfloat16): 16 * eps(ml_dtypes.bfloat16),
    np.dtype(np.float32): 64 * eps(np.float32),
    np.dtype(np.float64): 64 * eps(np.float64),
}

# Agreement of a whole training run with the tutorial's float64 NumPy loop (issue 2).
TUTORIAL_ATOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}


def host(leaf) -> np.ndarray:
    """A result's leaf as a float64 NumPy array (a PRNG key as its key data)."""
    if jnp.issubdtype(jnp.asarray(leaf).dtype, jax.dtypes.prng_key):
        leaf = jax.random.key_data(leaf)
    return np.asarray(leaf, np.float64)


def as_jax(x, dtype):
    return jnp.asarray(np.asarray(x, dtype=np.dtype(dtype)))


# Reference values are within 2**-100 of exact: a correctly rounded result is <= 0.5 ulp + that.
CORRECTLY_ROUNDED = 0.5 + 1e-9
# float32 is evaluated in float64 to about 2**-46 and rounded once: 0.5 + 2**-22 ulp at worst
# (measured 0.499999). float64 is double words within about 2**-60 before the one rounding:
# 0.5 + 2**-7 ulp at worst (measured 0.499999). float32 on the path TPUs take is double words
# a few ulps of 2**-48 off (measured 0.512).
ULP_BOUND = {np.dtype(np.float32): 0.5 + 2**-22, np.dtype(np.float64): 0.5 + 2**-7}
PAIRS_FLOAT32_BOUND = 0.515


def points(dtype) -> np.ndarray:
    """Every finite value for half precisions, the >= 100,000-point grid otherwise."""
    if np.dtype(dtype).itemsize == 2:
        return testing.every_finite(dtype)
    return testing.grid(np.dtype(dtype))


# Set by conftest to pytest's cache folder: mpmath references are slow (seconds per 100,000
# points) and identical in both passes of the suite, so they are computed once.
REFERENCE_DIR: pathlib.Path | None = None


def reference(name: str, *args: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`jaxsig.testing.reference`, memoised on disk by its inputs and the reference code."""
    if REFERENCE_DIR is None:
        return testing.reference(name, *args)
    digest = hashlib.sha256(inspect.getsource(testing).encode())
    digest.update(name.encode())
    for a in args:
        digest.update(np.ascontiguousarray(a, np.float64).tobytes())
    path = REFERENCE_DIR / f"{digest.hexdigest()[:32]}.npz"
    if path.exists():
        with np.load(path) as stored:
            return stored["hi"], stored["lo"]
    hi, lo = testing.reference(name, *args)
    np.savez(path, hi=hi, lo=lo)
    return hi, lo
