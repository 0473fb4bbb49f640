"""Prediction at the public boundary: the model's functions with their inputs validated."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxsig import _primitives as prim
from jaxsig import _validate as check
from jaxsig._model import Params, logits


def _checked(params: Params, X: ArrayLike, offset: ArrayLike | None):
    X = check.as_features(X, finite=False)
    check.check_params(params, X)
    return X, check.as_offset(offset, X)


@functools.partial(jax.jit, static_argnames="probability")
def _evaluate(params: Params, X: jax.Array, offset: jax.Array | None, probability: bool):
    z = logits(params, X)
    if offset is not None:
        z = z + (offset[:, None] if z.ndim == 2 else offset).astype(z.dtype)
    return prim.sigmoid(z) if probability else z, jnp.all(jnp.isfinite(z))


def _finite_checked(params: Params, X: ArrayLike, offset, probability: bool) -> jax.Array:
    """One pass over ``X``: its finiteness is read off the logits (`check_finite_after`)."""
    X, offset = _checked(params, X, offset)
    result, finite = _evaluate(params, X, offset, probability)
    check.check_finite_after("X", X, finite)
    return result


def decision_function(params: Params, X: ArrayLike, *, offset: ArrayLike | None = None):
    """Logits ``X w + b + offset`` for validated ``X`` (and ``offset`` (n,), if the model was
    fitted with one), (n,) or (n, k)."""
    return _finite_checked(params, X, offset, probability=False)


def predict_proba(params: Params, X: ArrayLike, *, offset: ArrayLike | None = None):
    """Probability of the positive class, ``sigmoid(X w + b + offset)``, for validated ``X``.

    The complement ``1 - p`` is ``sigmoid(-(X w + b))``: use it in the tail rather than
    subtracting, which loses every digit once ``p`` rounds to 1.
    """
    return _finite_checked(params, X, offset, probability=True)


def predict(
    params: Params, X: ArrayLike, threshold: ArrayLike = 0.5, *, offset: ArrayLike | None = None
) -> jax.Array:
    """Class ``1`` where the probability exceeds ``threshold`` (in [0, 1], traced), else ``0``;
    int32.

    >>> import jax.numpy as jnp, jaxsig
    >>> params = jaxsig.Params(jnp.array([2.0]), jnp.array(-1.0))
    >>> jaxsig.predict(params, [[0.0], [1.0]])
    Array([0, 1], dtype=int32)
    """
    check.check_hyperparameter("threshold", threshold, at_most=1)
    return (_finite_checked(params, X, offset, probability=True) > threshold).astype(jnp.int32)
