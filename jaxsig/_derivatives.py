"""Closed-form gradient and Hessian of the objective, and a check of both against autodiff."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxsig import _primitives as prim
from jaxsig._loss import logistic_loss, loss_gradient, objective, per_feature, ridge, row_weights
from jaxsig._model import Params, logits


def _transpose_times(X: jax.Array, r: jax.Array) -> jax.Array:
    """``X^T r`` written as ``r @ X``: XLA:CPU would otherwise copy a transposed X every call."""
    if r.ndim == 1:
        return r @ X
    return (r.T @ X).T


@jax.jit
def weighted_value_and_gradient(
    params: Params, X: ArrayLike, y: ArrayLike, u: ArrayLike, l2: ArrayLike
) -> tuple[jax.Array, Params]:
    """`value_and_gradient` with the row weights ``u`` used as given (no normalisation)."""
    X = jnp.asarray(X)
    z = logits(params, X)
    u = jnp.asarray(u, z.dtype)
    if z.ndim == 2:
        u = u[:, None]
    r = u * loss_gradient(z, y)
    value = jnp.sum(u * logistic_loss(z, y)) + ridge(l2, params.w)
    grad = Params(_transpose_times(X, r) + per_feature(l2, params.w) * params.w, jnp.sum(r, axis=0))
    return value, grad


@jax.jit
def value_and_gradient(
    params: Params,
    X: ArrayLike,
    y: ArrayLike,
    *,
    l2: ArrayLike = 0.0,
    sample_weight: ArrayLike | None = None,
) -> tuple[jax.Array, Params]:
    """Objective and its closed-form gradient from one evaluation of the logits.

    .. math::

        \\nabla_w J = X^T \\bigl(u \\odot (\\sigma(z) - y)\\bigr) + l_2 \\odot w, \\qquad
        \\nabla_b J = \\sum_i u_i (\\sigma(z_i) - y_i), \\qquad u = v / \\sum v.

    Unchecked: use it inside your own ``jit`` code.
    """
    X = jnp.asarray(X)
    return weighted_value_and_gradient(params, X, y, row_weights(params, X, sample_weight), l2)


@jax.jit
def gradient(
    params: Params,
    X: ArrayLike,
    y: ArrayLike,
    *,
    l2: ArrayLike = 0.0,
    sample_weight: ArrayLike | None = None,
) -> Params:
    """Closed-form gradient of `objective` (the tutorial's ``dw``, ``db`` plus weights and l2).

    >>> import jax.numpy as jnp, jaxsig
    >>> X, y = jnp.array([[1.0], [-1.0]]), jnp.array([1.0, 0.0])
    >>> print(jaxsig.gradient(jaxsig.init(1), X, y).w)
    [-0.5]
    """
    return value_and_gradient(params, X, y, l2=l2, sample_weight=sample_weight)[1]


HESSIAN_BLOCK_ROWS = 1024


def _gram_rows(X: jax.Array, c: jax.Array) -> jax.Array:
    """``[X 1]^T diag(c) [X 1]`` for a block of rows, as one dot over rows."""
    augmented = jnp.concatenate([X, jnp.ones_like(X[:, :1])], axis=1)
    return jax.lax.dot_general(augmented * c[:, None], augmented, (((0,), (0,)), ((), ())))


def augmented_gram(X: jax.Array, c: jax.Array, l2: ArrayLike) -> jax.Array:
    """``[X 1]^T diag(c) [X 1] + diag(l2, 0)`` for one column ``c``, intercept last; ``l2`` is a
    scalar or one strength per feature (d,).

    Summed over blocks of `HESSIAN_BLOCK_ROWS` rows: the scaled rows stay in cache (1.3 to 2
    times faster on XLA:CPU than one product over all rows), and under a sweep's ``vmap`` each
    point holds one scaled block, not a scaled copy of ``X``.
    """
    n, d = X.shape
    if not isinstance(n, int):  # a symbolic row count (jax.export): one product over all rows
        return _gram_rows(X, c) + _ridge_diagonal(l2, d, X.dtype)
    blocks, rows = divmod(n, HESSIAN_BLOCK_ROWS)

    def add_block(i, total):
        start = i * HESSIAN_BLOCK_ROWS
        block = jax.lax.dynamic_slice_in_dim(X, start, HESSIAN_BLOCK_ROWS)
        return total + _gram_rows(block, jax.lax.dynamic_slice_in_dim(c, start, HESSIAN_BLOCK_ROWS))

    h = jnp.zeros((d + 1, d + 1), X.dtype)
    if blocks:
        h = jax.lax.fori_loop(0, blocks, add_block, h)
    if rows:
        h = h + _gram_rows(X[n - rows :], c[n - rows :])
    return h + _ridge_diagonal(l2, d, X.dtype)


def _ridge_diagonal(l2: ArrayLike, d: int, dtype) -> jax.Array:
    """``diag(l2, 0)``: the penalty's Hessian, intercept last."""
    return jnp.diag(jnp.append(jnp.broadcast_to(jnp.asarray(l2, dtype), (d,)), 0).astype(dtype))


@jax.jit
def weighted_hessian(params: Params, X: ArrayLike, u: ArrayLike, l2: ArrayLike) -> jax.Array:
    """`hessian` with the row weights ``u`` used as given (no normalisation)."""
    X = jnp.asarray(X)
    z = logits(params, X)
    c = prim.sigmoid_derivative(z) * jnp.asarray(u, z.dtype).reshape(-1, *([1] * (z.ndim - 1)))
    if z.ndim == 1:
        return augmented_gram(X, c, l2)
    return jax.vmap(augmented_gram, in_axes=(None, 1, None))(X, c, l2)


@jax.jit
def hessian(
    params: Params,
    X: ArrayLike,
    *,
    l2: ArrayLike = 0.0,
    sample_weight: ArrayLike | None = None,
) -> jax.Array:
    """Closed-form Hessian of `objective` in ``(w, b)``, intercept last.

    .. math::

        H = \\tilde X^T \\operatorname{diag}\\bigl(u \\odot \\sigma(z)\\sigma(-z)\\bigr) \\tilde X
            + \\operatorname{diag}(l_2, 0), \\qquad \\tilde X = [X, 1].

    Shape (d + 1, d + 1), or (k, d + 1, d + 1) for k outputs (one block per output; the outputs
    do not interact). It does not depend on the labels.
    """
    X = jnp.asarray(X)
    return weighted_hessian(params, X, row_weights(params, X, sample_weight), l2)


class GradientCheck(NamedTuple):
    """Largest absolute differences between closed-form and autodiff derivatives."""

    gradient: jax.Array
    hessian: jax.Array


def _flat_objective(theta, X, y, l2, sample_weight, objective_fn, single_output: bool):
    """The objective of ``theta`` with rows ``[w_j, b_j]``, one per output."""
    w, b = theta[:, :-1].T, theta[:, -1]
    if single_output:
        w, b = w[:, 0], b[0]
    return objective_fn(Params(w, b), X, y, l2=l2, sample_weight=sample_weight)


@functools.partial(jax.jit, static_argnames=("objective_fn", "gradient_fn", "hessian_fn"))
def check_gradients(
    params: Params,
    X: ArrayLike,
    y: ArrayLike,
    *,
    l2: ArrayLike = 0.0,
    sample_weight: ArrayLike | None = None,
    objective_fn: Callable[..., jax.Array] = objective,
    gradient_fn: Callable[..., Params] = gradient,
    hessian_fn: Callable[..., jax.Array] = hessian,
) -> GradientCheck:
    """Compares closed-form derivatives with ``jax.grad`` and ``jax.hessian`` of the objective.

    By default it checks `gradient` and `hessian` against `objective`. To verify a variant you
    write, pass your own three functions with the same signatures (``hessian_fn`` takes no
    labels); they are static arguments, so define them once rather than as fresh lambdas.

    >>> import jax.numpy as jnp, jaxsig
    >>> X, y = jnp.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0]]), jnp.array([1.0, 0.0, 1.0])
    >>> check = jaxsig.check_gradients(jaxsig.init(2), X, y, l2=0.1)
    >>> bool(check.gradient < 1e-6 and check.hessian < 1e-6)
    True
    """
    kwargs = dict(l2=l2, sample_weight=sample_weight)
    closed_grad = gradient_fn(params, X, y, **kwargs)
    auto_grad = jax.grad(objective_fn)(params, X, y, **kwargs)
    grad_gap = jnp.max(
        jnp.stack([jnp.max(jnp.abs(a - c)) for a, c in zip(auto_grad, closed_grad, strict=True)])
    )

    single_output = params.w.ndim == 1
    w2 = params.w[:, None] if single_output else params.w
    theta = jnp.concatenate([w2.T, jnp.atleast_1d(params.b)[:, None]], axis=1)  # (k, d + 1)
    auto_h = jax.hessian(_flat_objective)(
        theta, X, y, l2, sample_weight, objective_fn, single_output
    )
    closed_h = hessian_fn(params, X, **kwargs)
    closed_h = closed_h[None] if single_output else closed_h
    k = theta.shape[0]
    block_diagonal = jnp.einsum("kde,kj->kdje", closed_h, jnp.eye(k, dtype=closed_h.dtype))
    return GradientCheck(grad_gap, jnp.max(jnp.abs(auto_h - block_diagonal)))
