"""float32 and half precision evaluated in float64 and rounded once.

``jax.enable_x64(True)`` around the arithmetic lets a trace widen its input to float64 whatever
the caller's x64 setting. There every function below is one ``exp`` (and one ``log1p``) of
``-|x|`` plus sums, products and quotients of non-negative terms: nothing cancels and nothing
overflows. ``exp`` and ``log1p`` are polynomials of our own (XLA's float64 ``log1p`` costs five
times jax.nn's float32 ``log_sigmoid``) accurate to about ``2**-46``, far more than the
``2**-24`` a float32 result needs, and written so that XLA fuses each function into one loop
(no division's result is used twice: XLA would write it out rather than recompute it).

Rounding once to float32 then errs by at most ``0.5 + 2**-22`` ulp (measured: 0.499999).
Half precisions first round to odd at float32 (24 bits, more than ``p + 2`` for float16's 11
and bfloat16's 8), so that the second rounding to nearest cannot double-round: the result is
the correctly rounded float64 value, which is the correctly rounded true value wherever that is
not within ``2**-46`` of a half-precision midpoint (tested on every value).

With ``a = min(|x|, 110)``, ``e = exp(-a)`` in ``(0, 1]`` and ``q = 1 / (1 + exp(a))``:

.. math::

    \\sigma(x) = 1 / (1 + \\exp(-x)), \\quad \\sigma'(x) = q - q^2, \\quad
    \\log\\sigma(x) = \\min(x, 0) - \\operatorname{log1p}(e),

    \\ell(z, y) = \\operatorname{log1p}(e) + |z|\\,(1 - y \\text{ if } z > 0 \\text{ else } y),
    \\quad \\partial_z \\ell = (1 - y) - q \\;(z \\ge 0), \\quad q - y \\;(z < 0).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

from jaxsig import _doubleword as dw

_F32 = jnp.dtype(jnp.float32)
_F64 = jnp.dtype(jnp.float64)


# float64 bits below float32's last mantissa bit (52 - 23 of them).
_BELOW_F32 = (1 << 29) - 1


def _round_to_odd_f32(v: jax.Array) -> jax.Array:
    """``v`` rounded to float32, to odd: truncated to 24 bits, the last one set if inexact.

    The truncated value is a float32, so the final conversion is exact (below float32's
    smallest normal number, which the half precisions flush or round to zero, it rounds).
    """
    bits = lax.bitcast_convert_type(v, jnp.int64)
    sticky = jnp.where((bits & _BELOW_F32) != 0, _BELOW_F32 + 1, 0)
    return lax.bitcast_convert_type((bits & ~_BELOW_F32) | sticky, _F64).astype(_F32)


def _narrow(v: jax.Array, dtype: jnp.dtype) -> jax.Array:
    if jnp.dtype(dtype) == _F32:
        return v.astype(_F32)
    return _round_to_odd_f32(v).astype(dtype)


def _widened(fn):
    """``fn`` of float64 arguments, applied to narrower ones and rounded back once."""

    def evaluate(*args: jax.Array) -> jax.Array:
        dtype = args[0].dtype
        with jax.enable_x64(True):
            # Through float32: XLA:CPU converts half precisions to float64 element by element.
            return _narrow(fn(*(a.astype(_F32).astype(_F64) for a in args)), dtype)

    return evaluate


# Beyond |x| = 110, exp(-|x|) is below half of every narrower dtype's smallest subnormal number,
# so clamping there changes no rounded result and keeps 2**k normal in float64.
_X_MAX = 110.0
# Cody-Waite split of ln 2 (fdlibm's): k * _LN2_HI is exact for |k| < 2**20.
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
# Taylor terms of exp(v) on |v| <= ln(2)/2: the first omitted one is below 2**-46 relative.
_EXP_DEGREE = 11
# Terms 1/(2j + 1) of atanh(f) / f on |f| <= 1/5: the first omitted one is below 2**-45.
_ATANH_TERMS = 9


def _exp(u: jax.Array) -> jax.Array:
    """``exp(u)`` for ``|u| <= _X_MAX`` to about ``2**-46``: ``2**k exp(v)``, ``v = u - k ln 2``.

    Cheaper than XLA's float64 ``exp``: no special cases, and ``2**k`` comes from ``k``'s bits
    (`_doubleword.pow2`).
    """
    k = jnp.round(u * (1 / math.log(2)))
    v = (u - k * _LN2_HI) - k * _LN2_LO
    p = jnp.full_like(v, 1 / math.factorial(_EXP_DEGREE))
    for j in range(_EXP_DEGREE - 1, -1, -1):
        p = p * v + 1 / math.factorial(j)
    return p * dw.pow2(k, _F64)


def _exp_neg_abs(x: jax.Array) -> jax.Array:
    return _exp(-jnp.minimum(jnp.abs(x), _X_MAX))


def _log1p(t: jax.Array) -> jax.Array:
    """``log1p(t)`` for ``t`` in ``[0, 1]``: ``2 atanh(f)``, ``f = t / (2 + t)`` below 1/2, else
    ``ln 2 + 2 atanh(f)``, ``f = (t - 1) / (t + 3)`` (``t - 1`` exact); ``|f| <= 1/5``. The
    denominator is inverted by `_doubleword.reciprocal`, which XLA fuses where a division's
    result, used twice here, would be written out.
    """
    near_one = t >= 0.5
    f = jnp.where(near_one, t - 1, t) * dw.reciprocal(jnp.where(near_one, t + 3, t + 2))
    f2 = f * f
    p = jnp.full_like(f, 1 / (2 * _ATANH_TERMS - 1))
    for j in range(_ATANH_TERMS - 2, -1, -1):
        p = p * f2 + 1 / (2 * j + 1)
    return jnp.where(near_one, math.log(2), 0.0) + 2 * f * p


@_widened
def sigmoid(x: jax.Array) -> jax.Array:
    return 1 / (1 + _exp(-jnp.clip(x, -_X_MAX, _X_MAX)))


@_widened
def sigmoid_derivative(x: jax.Array) -> jax.Array:
    q = 1 / (1 + _exp(jnp.minimum(jnp.abs(x), _X_MAX)))
    return q - q * q


@_widened
def log_sigmoid(x: jax.Array) -> jax.Array:
    return jnp.minimum(x, 0) - _log1p(_exp_neg_abs(x))


@_widened
def loss(z: jax.Array, y: jax.Array) -> jax.Array:
    weight = jnp.where(z > 0, 1 - y, y)
    # |z| = inf: the loss is inf unless the label agrees exactly (weight 0), where it is 0.
    return _log1p(_exp_neg_abs(z)) + jnp.where(weight == 0, 0, jnp.abs(z) * weight)


@_widened
def loss_gradient(z: jax.Array, y: jax.Array) -> jax.Array:
    q = 1 / (1 + _exp(jnp.minimum(jnp.abs(z), _X_MAX)))
    positive = z >= 0
    return jnp.where(positive, 1 - y, -y) + jnp.where(positive, -1, 1) * q
