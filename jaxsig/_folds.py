"""Cross-validation folds from a PRNG key: one fold number per row.

A fold assignment ``f`` of shape (n,) with values ``0 .. k-1`` holds out the rows of fold ``j``
when ``j`` is validated; sweeps turn it into row weights, so no fold copies ``X``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxsig import _validate as check


def _check_count(n_folds: int, n_samples: int) -> None:
    if not isinstance(n_folds, int) or isinstance(n_folds, bool) or n_folds < 2:
        raise ValueError(f"n_folds must be an int >= 2, got {n_folds!r}")
    if n_folds > n_samples:
        raise ValueError(f"n_folds={n_folds} is more than the {n_samples} rows")


@functools.partial(jax.jit, static_argnums=(1, 2))
def _kfold(key: jax.Array, n_samples: int, n_folds: int) -> jax.Array:
    return (
        jnp.zeros(n_samples, jnp.int32)
        .at[jax.random.permutation(key, n_samples)]
        .set(jnp.arange(n_samples, dtype=jnp.int32) % n_folds)
    )


def kfold(key: jax.Array, n_samples: int, n_folds: int = 5) -> jax.Array:
    """Rows shuffled by ``key`` and dealt into ``n_folds`` folds whose sizes differ by at most 1.

    >>> import jax, jaxsig
    >>> jaxsig.kfold(jax.random.key(0), 10, 3).tolist().count(0)
    4
    """
    _check_count(n_folds, n_samples)
    return _kfold(key, n_samples, n_folds)


@functools.partial(jax.jit, static_argnums=2)
def _stratified(key: jax.Array, y: jax.Array, n_folds: int) -> jax.Array:
    n = y.shape[0]
    shuffled = jax.random.permutation(key, n)
    # Rows grouped by class, in random order inside each class; each class is then dealt in turn.
    order = shuffled[jnp.argsort(y[shuffled] > 0.5, stable=True)]
    positives_before = jnp.cumsum(y[order] > 0.5) - (y[order] > 0.5)
    rank_in_class = jnp.where(y[order] > 0.5, positives_before, jnp.arange(n))
    return jnp.zeros(n, jnp.int32).at[order].set((rank_in_class % n_folds).astype(jnp.int32))


def stratified_kfold(key: jax.Array, y: ArrayLike, n_folds: int = 5) -> jax.Array:
    """Like `kfold`, dealing each class separately so every fold keeps the class balance.

    ``y`` holds labels 0 and 1 (a soft label counts as its class, ``y > 0.5``). Each class needs
    at least ``n_folds`` rows, so that every fold validates and trains on both classes.
    """
    if jnp.ndim(y) != 1:
        raise ValueError(f"stratified_kfold needs one label column, got shape {jnp.shape(y)}")
    _check_count(n_folds, jnp.shape(y)[0])
    if check.is_concrete(y):  # traced labels: the caller vouches for the class sizes
        with jax.ensure_compile_time_eval():
            labels = np.asarray(y)
        smallest = int(min((labels > 0.5).sum(), (labels <= 0.5).sum()))
        if smallest < n_folds:
            raise ValueError(
                f"stratified_kfold: the smaller class has {smallest} row(s), fewer than "
                f"n_folds={n_folds}; lower n_folds"
            )
    return _stratified(key, jnp.asarray(y), n_folds)
