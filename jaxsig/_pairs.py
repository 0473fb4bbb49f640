"""Sigmoid functions in double-word arithmetic, rounded once: the float64 path, and TPUs' path.

``sigmoid`` and ``log_sigmoid`` and the loss reduce to ``t = exp(-|x|)`` in ``(0, 1]``,
evaluated in double words (``jaxsig._doubleword``) of float32, or float64 for float64 inputs:

.. math::

    \\sigma(x) = 1 / (1 + t) \\; (x \\ge 0), \\qquad \\sigma(x) = t / (1 + t) \\; (x < 0),
    \\qquad \\log\\sigma(x) = \\min(x, 0) - \\operatorname{log1p}(t).

The pair is rounded once: to nearest for float32 and float64, and to odd and then to nearest for
float16 and bfloat16, which makes the half-precision results correctly rounded. Nothing
overflows: ``t`` is never larger than one. Each function here takes and returns the input's
dtype.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxsig import _doubleword as dw

_F32 = jnp.dtype(jnp.float32)
_F64 = jnp.dtype(jnp.float64)

# Cody-Waite split of ln 2: LN2_HI has enough trailing zero bits that k * LN2_HI is exact for
# every k the clamp below allows (float32: 16 significant bits; float64: fdlibm's constants).
_LN2_HI = {_F32: 0.693145751953125, _F64: 6.93147180369123816490e-01}
_LN2_LO = {_F32: 1.4286068203094172e-06, _F64: 1.90821492927058770002e-10}
# ln 2 to twice the working precision, for log1p near t = 1.
_LN2_PAIR = {
    _F32: (0.6931471824645996, -1.904654323148236e-09),
    _F64: (0.6931471805599453, 2.3190468138462996e-17),
}
# exp(-X_MAX) is below half the smallest subnormal, so clamping |x| there changes no result.
_X_MAX = {_F32: 110.0, _F64: 750.0}
# Taylor coefficients 1/(j+3)! of (exp(r) - 1 - r - r**2/2) / r**3 on |r| <= ln(2)/2, truncated
# below 2**-32 (float32) and 2**-63 (float64) relative to exp(r).
_EXPM1_TERMS = {_F32: 7, _F64: 13}
# Terms 1/(2j+3) of (atanh(f) - f) / f**3 for |f| <= 1/5, truncated below 2**-32 (float32)
# and 2**-61 (float64) relative to atanh(f).
_ATANH_TERMS = {_F32: 6, _F64: 12}


def _horner(x: jax.Array, coefficients: list[float]) -> jax.Array:
    result = jnp.full_like(x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result = dw.mul(result, x) + c
    return result


def _exp_neg_abs(x: jax.Array) -> tuple[dw.Pair, jax.Array]:
    """``exp(-|x|) = (hi + lo) * 2**-k``, ``hi + lo`` in ``[0.7, 1.42]``: the pair and k."""
    dtype = x.dtype
    a = jnp.minimum(jnp.abs(x), _X_MAX[dtype])
    k = jnp.round(dw.mul(a, 1 / math.log(2)))
    # r = a - k ln2 as an exact double word; exp(-r) = exp(v) exp(-r_lo) with v = -r_hi.
    r = dw.two_sum(a - k * _LN2_HI[dtype], dw.mul(-k, _LN2_LO[dtype]))
    v = -r[0]
    coefficients = [1 / math.factorial(j + 3) for j in range(_EXPM1_TERMS[dtype])]
    cubic_tail = dw.mul(dw.mul(v, v), dw.mul(v, _horner(v, coefficients)))
    square_hi, square_lo = dw.two_product(v, v)  # v**2 / 2 exactly: halving is exact
    hi, lo = dw.two_sum(dw.constant(1.0, v), v)
    hi, lo2 = dw.two_sum(hi, 0.5 * square_hi)
    expm1_v = v + 0.5 * square_hi + cubic_tail
    lo = lo + lo2 + (0.5 * square_lo + cubic_tail - dw.mul(r[1], 1 + expm1_v))
    return dw.fast_two_sum(hi, lo), k


def log1p_exp_neg_abs(x: jax.Array) -> tuple[dw.Pair, jax.Array]:
    """``log1p(exp(-|x|)) = (hi + lo) * 2**-k``.

    With ``t = exp(-|x|)``: ``log1p(t) = 2 atanh(f)``, ``f = t / (2 + t)`` for ``t < 1/2``, and
    ``log1p(t) = ln 2 + 2 atanh(f)``, ``f = (t - 1) / (t + 3)`` (k = 0) otherwise; ``|f| <= 1/5``.
    """
    dtype = x.dtype
    e, k = _exp_neg_abs(x)
    t_hi, t_lo = dw.scale(e[0], k), dw.scale(e[1], k)
    near_one = t_hi >= 0.5
    t_minus_one = dw.two_sum(t_hi, dw.constant(-1.0, t_hi))
    num = (
        jnp.where(near_one, t_minus_one[0], e[0]),
        jnp.where(near_one, t_minus_one[1] + t_lo, e[1]),
    )
    shift = jnp.where(near_one, 0.0, k)
    den_hi, den_lo = dw.two_sum(dw.constant(2.0, t_hi) + jnp.where(near_one, 1.0, 0.0), t_hi)
    den = dw.fast_two_sum(den_hi, den_lo + t_lo)
    g = dw.divide(num, den)  # f = g * 2**-shift
    f = dw.scale(g[0], shift)
    f2 = dw.mul(f, f)
    coefficients = [1 / (2 * j + 3) for j in range(_ATANH_TERMS[dtype])]
    tail = dw.mul(dw.mul(g[0], f2), _horner(f2, coefficients))
    atanh_hi, atanh_lo = dw.fast_two_sum(2 * g[0], 2 * (g[1] + tail))
    ln2_hi, ln2_lo = _LN2_PAIR[dtype]
    s_hi, s_lo = dw.two_sum(jnp.where(near_one, ln2_hi, 0.0), atanh_hi)
    s_lo = s_lo + (jnp.where(near_one, ln2_lo, 0.0) + atanh_lo)
    return dw.fast_two_sum(s_hi, s_lo), shift


def _sigmoid_pair(x: jax.Array) -> dw.Pair:
    e, k = _exp_neg_abs(x)
    t_hi = dw.scale(e[0], k)
    one_plus_t = dw.two_sum(dw.constant(1.0, t_hi), t_hi)
    den = dw.fast_two_sum(one_plus_t[0], one_plus_t[1] + dw.scale(e[1], k))
    negative = x < 0
    num = (jnp.where(negative, e[0], 1.0), jnp.where(negative, e[1], 0.0))
    q_hi, q_lo = dw.divide(num, den)
    shift = jnp.where(negative, k, 0.0)
    return dw.scale(q_hi, shift), dw.scale(q_lo, shift)


def _log_sigmoid_pair(x: jax.Array) -> dw.Pair:
    (l_hi, l_lo), shift = log1p_exp_neg_abs(x)
    l_hi, l_lo = dw.scale(l_hi, shift), dw.scale(l_lo, shift)
    s_hi, s_lo = dw.two_sum(jnp.minimum(x, 0.0), -l_hi)
    # TwoSum of an infinity leaves NaN in the error word; the infinite sum is exact.
    s_lo = jnp.where(jnp.isfinite(s_hi), s_lo - l_lo, 0.0)
    return dw.fast_two_sum(s_hi, s_lo)


def round_pair(pair: dw.Pair, dtype: jnp.dtype) -> jax.Array:
    """Rounds a double word once to ``dtype``: correctly for half precisions (via round-to-odd)."""
    if jnp.dtype(dtype) == pair[0].dtype:
        return pair[0]
    return dw.round_to_odd(pair).astype(dtype)


def _loss_pair(z: jax.Array, y: jax.Array) -> dw.Pair:
    # softplus(z) - y z = softplus(-|z|) + |z| * (1 - y if z > 0 else y): two non-negative terms,
    # so nothing cancels, and softplus(-|z|) = log1p(exp(-|z|)) never overflows.
    (l_hi, l_lo), shift = log1p_exp_neg_abs(z)
    l_hi, l_lo = dw.scale(l_hi, shift), dw.scale(l_lo, shift)
    a = jnp.abs(z)
    one_minus_y = dw.two_sum(dw.constant(1.0, y), -y)
    positive = z > 0
    w_hi = jnp.where(positive, one_minus_y[0], y)
    w_lo = jnp.where(positive, one_minus_y[1], 0.0)
    finite = jnp.isfinite(a)
    p_hi, p_lo = dw.two_product(jnp.where(finite, a, 0.0), w_hi)
    s_hi, s_lo = dw.two_sum(l_hi, p_hi)
    s_lo = s_lo + (l_lo + p_lo + dw.mul(jnp.where(finite, a, 0.0), w_lo))
    # |z| = inf: the loss is inf unless the label agrees exactly (weight 0), where it is 0.
    s_hi = jnp.where(finite | (w_hi == 0), s_hi, jnp.inf)
    s_lo = jnp.where(jnp.isfinite(s_hi), s_lo, 0.0)
    return dw.fast_two_sum(s_hi, s_lo)


def compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """float64 for float64, float32 for everything narrower."""
    return _F64 if dtype == _F64 else _F32


def _in_pairs(pair_fn):
    """``pair_fn`` of arguments widened to the compute dtype, rounded back once."""

    def evaluate(*args: jax.Array) -> jax.Array:
        dtype = args[0].dtype
        return round_pair(pair_fn(*(a.astype(compute_dtype(dtype)) for a in args)), dtype)

    return evaluate


sigmoid = _in_pairs(_sigmoid_pair)
log_sigmoid = _in_pairs(_log_sigmoid_pair)
loss = _in_pairs(_loss_pair)


def sigmoid_derivative(x: jax.Array) -> jax.Array:
    """``e / (1 + e)**2`` with ``e = exp(-|x|)`` (the backend's ``exp``, about an ulp) and
    ``1 + e = hi + lo`` exact, so ``(1 + e)**2 = hi**2 (1 + 2 lo / hi)`` to first order: within 2.8
    ulp in float32 and float64, a sixth of the cost of a double-word sigmoid. A derivative needs
    no correct rounding; nothing cancels, and the tails are those of ``e``."""
    dtype = x.dtype
    e = jnp.exp(-jnp.abs(x.astype(compute_dtype(dtype))))
    hi, lo = dw.fast_two_sum(dw.constant(1.0, e), e)
    return ((e / dw.mul(hi, hi)) * (1 - 2 * lo / hi)).astype(dtype)


def loss_gradient(z: jax.Array, y: jax.Array) -> jax.Array:
    """``(1 - y) - q`` for ``z >= 0``, else ``q - y``, with ``q = sigmoid(-|z|)`` rounded."""
    dtype = z.dtype
    z, y = z.astype(compute_dtype(dtype)), y.astype(compute_dtype(dtype))
    q = sigmoid(-jnp.abs(z))
    return jnp.where(z >= 0, (1 - y) - q, q - y).astype(dtype)
