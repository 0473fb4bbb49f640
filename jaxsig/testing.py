"""Accuracy measurement: mpmath references, ulp errors and the input grids jaxsig is tested on.

Use it to hold a variant you write to the same standard. Needs ``mpmath`` (the ``test`` extra).

An error is measured in units in the last place (ulp) of the exact value in the target dtype:
``|computed - exact| / 2**(floor(log2|exact|) - p + 1)``, with ``p`` the dtype's precision. Exact
values below the smallest normal number are excluded from ulp statistics: XLA:CPU flushes such
results to zero. `check_subnormal_range` checks them apart (zero, or within one subnormal step).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import ml_dtypes
import numpy as np

_PRECISION_BITS = 160


def finfo(dtype) -> ml_dtypes.finfo:
    return ml_dtypes.finfo(np.dtype(dtype))


def _mpmath():
    try:
        import mpmath
    except ImportError as error:  # pragma: no cover - exercised only without the extra
        raise ImportError("jaxsig.testing needs mpmath: pip install 'jaxsig[test]'") from error
    return mpmath


def _exact_sigmoid(mp, x):
    return 1 / (1 + mp.exp(-x))


def _exact_log_sigmoid(mp, x):
    return min(x, 0) - mp.log1p(mp.exp(-abs(x)))


def _exact_loss(mp, z, y):
    if mp.isinf(z):
        weight = (1 - y) if z > 0 else y
        return mp.inf if weight else mp.mpf(0)
    return mp.log1p(mp.exp(-abs(z))) + abs(z) * ((1 - y) if z > 0 else y)


def _exact_sigmoid_derivative(mp, x):
    return _exact_sigmoid(mp, x) * _exact_sigmoid(mp, -x)


def _exact_loss_gradient(mp, z, y):
    # sigmoid(z) - y, written so that no working-precision cancellation occurs for z >> 0.
    return _exact_sigmoid(mp, z) - y if z < 0 else (1 - y) - _exact_sigmoid(mp, -z)


EXACT: dict[str, Callable] = {
    "sigmoid": _exact_sigmoid,
    "log_sigmoid": _exact_log_sigmoid,
    "loss": _exact_loss,
    "sigmoid_derivative": _exact_sigmoid_derivative,
    "loss_gradient": _exact_loss_gradient,
}


def reference(name: str, *args: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact value of ``EXACT[name]`` at float inputs, as a float64 pair ``hi + lo``."""
    mp = _mpmath()
    fn = EXACT[name]
    columns = [np.asarray(a, np.float64).ravel() for a in np.broadcast_arrays(*args)]
    hi = np.empty(columns[0].shape, np.float64)
    lo = np.empty_like(hi)
    with mp.workprec(_PRECISION_BITS):
        for i, point in enumerate(zip(*columns, strict=True)):
            exact = fn(mp, *(mp.mpf(float(v)) for v in point))
            hi[i] = float(exact)
            lo[i] = float(exact - hi[i]) if mp.isfinite(exact) else 0.0
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    return hi.reshape(shape), lo.reshape(shape)


def ulp_error(computed, exact: tuple[np.ndarray, np.ndarray], dtype) -> np.ndarray:
    """Error of ``computed`` in ulps of ``dtype``; NaN where the exact value is not normal.

    Infinite exact values count as 0 ulp when matched exactly, else inf.
    """
    hi, lo = exact
    v = np.asarray(computed).astype(np.float64)
    info = finfo(dtype)
    mantissa, exponent = np.frexp(np.abs(hi))
    # hi may have rounded up to a power of two from just below it: the binade is the one below.
    exponent = exponent - ((mantissa == 0.5) & (np.sign(lo) == -np.sign(hi)) & (lo != 0))
    ulp = np.ldexp(1.0, exponent - 1 - info.nmant)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        error = np.abs((v - hi) - lo) / ulp
    infinite = np.isinf(hi)
    error = np.where(infinite, np.where(v == hi, 0.0, np.inf), error)
    normal = infinite | (np.abs(hi) >= float(info.smallest_normal))
    return np.where(normal, error, np.nan)


def check_subnormal_range(computed, exact: tuple[np.ndarray, np.ndarray], dtype) -> np.ndarray:
    """Indices where the exact value is below the normal range and ``computed`` is neither zero
    nor within one subnormal step of it."""
    hi, _ = exact
    v = np.asarray(computed).astype(np.float64)
    info = finfo(dtype)
    tiny = np.abs(hi) < float(info.smallest_normal)
    bad = tiny & (v != 0) & (np.abs(v - hi) > float(info.smallest_subnormal))
    return np.flatnonzero(bad)


def every_finite(dtype) -> np.ndarray:
    """Every finite value of a 16-bit dtype, in increasing order."""
    values = np.arange(2**16, dtype=np.uint16).view(np.dtype(dtype))
    with np.errstate(invalid="ignore"):  # signalling NaN patterns
        wide = values.astype(np.float64)
    return np.sort(values[np.isfinite(wide)].astype(np.float64)).astype(np.dtype(dtype))


@functools.cache
def grid(dtype, size: int = 120_000, seed: int = 0) -> np.ndarray:
    """About ``size`` (at least 100,000) distinct float32 or float64 points, increasing.

    A fifth each: log-spaced magnitudes over the whole finite range (both signs); uniform on
    [-50, 50]; uniform on [-5, 5], where ``exp(-|x|)`` sweeps most of (0, 1]; dense around the
    thresholds where exp overflows, sigmoid rounds to one and results leave the normal range;
    and random bit patterns. Plus zeros and the extremes.
    """
    dtype = np.dtype(dtype)
    info = finfo(dtype)
    rng = np.random.default_rng(seed)
    part = size // 5
    log_max = np.log(float(info.max))
    log_tiny = np.log(float(info.smallest_subnormal))
    magnitudes = np.exp(rng.uniform(log_tiny, log_max, part))
    log_spaced = magnitudes * rng.choice([-1.0, 1.0], part)
    uniform = np.concatenate([rng.uniform(-50, 50, part), rng.uniform(-5, 5, part)])
    eps = float(info.eps)
    thresholds = np.array(
        [
            log_max,  # exp(x) overflows
            np.log(float(info.smallest_normal)),  # sigmoid(x) leaves the normal range
            log_tiny,
            -np.log(eps / 2),  # sigmoid(x) rounds to one
            -np.log(eps),
            np.log(eps),  # log_sigmoid(x) = x up to rounding
        ]
    )
    centres = rng.choice(np.concatenate([thresholds, -thresholds]), part)
    dense = centres * (1 + rng.uniform(-0.02, 0.02, part))
    unsigned = np.uint32 if dtype.itemsize == 4 else np.uint64
    bits = rng.integers(0, np.iinfo(unsigned).max, part, dtype=unsigned, endpoint=True)
    with np.errstate(invalid="ignore"):  # signalling NaN patterns
        patterns = bits.view(dtype).astype(np.float64)
    extremes = [0.0, float(info.max), -float(info.max), float(info.smallest_normal)]
    points = np.concatenate([log_spaced, uniform, dense, patterns[np.isfinite(patterns)], extremes])
    points = np.unique(points.astype(dtype))
    return points[np.isfinite(points)]
