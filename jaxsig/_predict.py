"""Prediction at the public boundary: the model's functions with their inputs validated."""

from __future__ import annotations

import jax
from jax.typing import ArrayLike

from jaxsig import _validate as check
from jaxsig._model import Params, logits, raw_predict, raw_predict_proba


def _checked(params: Params, X: ArrayLike) -> jax.Array:
    X = check.as_features(X)
    check.check_params(params, X)
    return X


def decision_function(params: Params, X: ArrayLike) -> jax.Array:
    """Logits ``X w + b`` for validated ``X``, (n,) or (n, k)."""
    return logits(params, _checked(params, X))


def predict_proba(params: Params, X: ArrayLike) -> jax.Array:
    """Probability of the positive class, ``sigmoid(X w + b)``, for validated ``X``.

    The complement ``1 - p`` is ``sigmoid(-(X w + b))``: use it in the tail rather than
    subtracting, which loses every digit once ``p`` rounds to 1.
    """
    return raw_predict_proba(params, _checked(params, X))


def predict(params: Params, X: ArrayLike, threshold: ArrayLike = 0.5) -> jax.Array:
    """Class ``1`` where the probability exceeds ``threshold`` (traced), else ``0``; int32.

    >>> import jax.numpy as jnp, jaxsig
    >>> params = jaxsig.Params(jnp.array([2.0]), jnp.array(-1.0))
    >>> jaxsig.predict(params, [[0.0], [1.0]])
    Array([0, 1], dtype=int32)
    """
    check.check_hyperparameter("threshold", threshold)
    return raw_predict(params, _checked(params, X), threshold)
