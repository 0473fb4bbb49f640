"""Sigmoid primitives, correctly rounded in half precision and within about half an ulp in
float32 and float64, at the cost of the inexact ones.

One mechanism, `exact`, picks the evaluation per dtype and backend: float64 inputs in
double-word float64 (``jaxsig._pairs``); float32 and half precisions in float64, rounded once
(``jaxsig._widened``), except on TPUs, which have no float64 and take float32 double words
(``jax.lax.platform_dependent`` chooses when the program is lowered). A half-precision function
of one argument is a gather from a table of its 65,536 results, built once from that float64
evaluation. Derivatives are rules of
their own (``custom_jvp``) built from the same functions, so every order stays accurate and
finite. On XLA:CPU, results below the smallest normal number are flushed to zero.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jaxsig import _pairs, _widened

_F64 = jnp.dtype(jnp.float64)


def float_input(x: ArrayLike) -> jax.Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


_HALVES = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


@functools.cache
def _table(widened: Callable, pairs: Callable, dtype: jnp.dtype) -> np.ndarray:
    """A function at every value of a 16-bit ``dtype``, indexed by the value's bits: computed
    once, even while a caller's trace runs, on the CPU by the float64 evaluation ``widened``
    (whose results below the smallest normal number XLA:CPU flushes to zero, on every backend
    then), or by the double words ``pairs`` on the default device where JAX has no CPU
    backend. Both are correctly rounded."""
    every = np.arange(1 << 16, dtype=np.uint16).view(dtype)
    with jax.ensure_compile_time_eval():
        try:
            cpu = jax.devices("cpu")[0]
        except RuntimeError:
            return np.asarray(jax.jit(pairs)(jnp.asarray(every)))
        with jax.default_device(cpu):
            return np.asarray(jax.jit(widened)(jnp.asarray(every)))


def _looked_up(widened: Callable, pairs: Callable):
    """A function of a half-precision array as a gather from its `_table`: correctly rounded
    by construction, and cheaper than any evaluation (a 128 KiB table stays in cache)."""

    def evaluate(x: jax.Array) -> jax.Array:
        table = jnp.asarray(_table(widened, pairs, x.dtype))
        return table[lax.bitcast_convert_type(x, jnp.uint16)]

    return evaluate


def exact(widened: Callable[..., jax.Array], pairs: Callable[..., jax.Array]):
    """One element-wise function of same-dtype arguments (broadcast together), evaluated as the
    dtype and backend allow; NaN in any argument gives NaN (float64 arithmetic propagates it;
    double words are told to). A function of one half-precision argument is a table lookup,
    except on TPUs (slow gathers), where it is evaluated in double words."""

    def in_pairs(*args: jax.Array) -> jax.Array:
        nan = functools.reduce(jnp.logical_or, [jnp.isnan(a) for a in args])
        return jnp.where(nan, jnp.nan, pairs(*args))

    def evaluate(*args: jax.Array) -> jax.Array:
        args = jnp.broadcast_arrays(*args)
        if args[0].dtype == _F64:
            return in_pairs(*args)
        if len(args) == 1 and args[0].dtype in _HALVES:
            return lax.platform_dependent(
                *args, tpu=in_pairs, default=_looked_up(widened, in_pairs)
            )
        return lax.platform_dependent(*args, tpu=in_pairs, default=widened)

    return evaluate


_sigmoid = exact(_widened.sigmoid, _pairs.sigmoid)
_sigmoid_derivative = exact(_widened.sigmoid_derivative, _pairs.sigmoid_derivative)
_log_sigmoid = exact(_widened.log_sigmoid, _pairs.log_sigmoid)


@jax.custom_jvp
@jax.jit
def sigmoid(x: ArrayLike) -> jax.Array:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, accurate in every floating dtype.

    Never overflows; ``sigmoid(-x)`` is the complement probability ``1 - sigmoid(x)``, accurate
    in its tail. The derivative is ``sigmoid(x) * sigmoid(-x)`` (no cancellation).

    >>> import jaxsig
    >>> print(jaxsig.sigmoid(0.0), jaxsig.sigmoid(-1000.0), jaxsig.sigmoid(20.0))
    0.5 0.0 1.0
    """
    x = float_input(x)
    return _sigmoid(x)


@sigmoid.defjvp
def _sigmoid_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    return sigmoid(x), sigmoid_derivative(x) * x_dot


@jax.custom_jvp
@jax.jit
def sigmoid_derivative(x: ArrayLike) -> jax.Array:
    """``sigmoid(x) sigmoid(-x)``, accurate in both tails; its derivative is
    ``sigmoid'(x) (sigmoid(-x) - sigmoid(x))``."""
    x = float_input(x)
    return _sigmoid_derivative(x)


@sigmoid_derivative.defjvp
def _sigmoid_derivative_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    d = sigmoid_derivative(x)
    return d, d * (sigmoid(-x) - sigmoid(x)) * x_dot


@jax.custom_jvp
@jax.jit
def log_sigmoid(x: ArrayLike) -> jax.Array:
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, accurate in every floating dtype.

    Its derivative is ``sigmoid(-x)``.

    >>> import jaxsig
    >>> print(jaxsig.log_sigmoid(-1000.0), jaxsig.log_sigmoid(0.0))
    -1000.0 -0.6931472
    """
    x = float_input(x)
    return _log_sigmoid(x)


@log_sigmoid.defjvp
def _log_sigmoid_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    return log_sigmoid(x), sigmoid(-x) * x_dot


def softplus(x: ArrayLike) -> jax.Array:
    """``log(1 + exp(x)) = -log_sigmoid(-x)``, accurate and overflow free.

    >>> import jaxsig
    >>> print(jaxsig.softplus(0.0), jaxsig.softplus(1000.0))
    0.6931472 1000.0
    """
    return -log_sigmoid(-float_input(x))


@jax.custom_jvp
@jax.jit
def logit(p: ArrayLike) -> jax.Array:
    """Inverse of the sigmoid, ``log(p / (1 - p))``, for ``p`` in ``[0, 1]`` (NaN outside).

    Evaluated as ``+-log1p((1 - 2q) / q)`` with ``q = min(p, 1 - p)``, where ``1 - 2q`` is exact
    near ``p = 1/2``; ``logit(0) = -inf``, ``logit(1) = inf``.

    >>> import jaxsig
    >>> print(jaxsig.logit(0.5), jaxsig.logit(1.0))
    0.0 inf
    """
    p = float_input(p)
    wide = p.astype(_pairs.compute_dtype(p.dtype))
    lower = wide < 0.5
    q = jnp.where(lower, wide, 1 - wide)
    magnitude = jnp.log1p((1 - 2 * q) / q)
    return jnp.where(lower, -magnitude, magnitude).astype(p.dtype)


@logit.defjvp
def _logit_jvp(primals, tangents):
    (p,), (p_dot,) = primals, tangents
    return logit(p), p_dot / (p * (1 - p))
