"""Model parameters as a pytree, and the unchecked prediction functions."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from jaxsig import _primitives as prim


class Params(NamedTuple):
    """Logistic model parameters: ``w`` of shape (d,) or (d, k), intercept ``b`` of () or (k,).

    With ``k`` columns the model is ``k`` independent sigmoids (multi-output, not softmax).
    """

    w: jax.Array
    b: jax.Array


def init(
    n_features: int,
    n_outputs: int | None = None,
    *,
    key: jax.Array | None = None,
    scale: float = 0.01,
    dtype: DTypeLike | None = None,
) -> Params:
    """Zero parameters (the problem is convex: no random start needed), or ``scale * N(0, 1)``.

    >>> import jaxsig
    >>> jaxsig.init(2).w.shape, jaxsig.init(2, 3).b.shape
    ((2,), (3,))
    """
    dtype = jnp.result_type(float) if dtype is None else dtype
    w_shape = (n_features,) if n_outputs is None else (n_features, n_outputs)
    b_shape = () if n_outputs is None else (n_outputs,)
    if key is None:
        return Params(jnp.zeros(w_shape, dtype), jnp.zeros(b_shape, dtype))
    return Params(scale * jax.random.normal(key, w_shape, dtype), jnp.zeros(b_shape, dtype))


def logits(params: Params, X: ArrayLike) -> jax.Array:
    """Decision function ``z = X w + b``, of shape (n,) or (n, k). Unchecked."""
    return jnp.asarray(X) @ params.w + params.b


def raw_predict_proba(params: Params, X: ArrayLike) -> jax.Array:
    """``sigmoid(X w + b)``: probability of the positive class. Unchecked."""
    return prim.sigmoid(logits(params, X))


def raw_predict(params: Params, X: ArrayLike, threshold: ArrayLike = 0.5) -> jax.Array:
    """``1`` where the probability exceeds ``threshold`` (traced), else ``0``; int32. Unchecked."""
    return (raw_predict_proba(params, X) > threshold).astype(jnp.int32)
