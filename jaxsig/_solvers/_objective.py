"""The objective as solvers evaluate it: a few ulps from one ``exp`` and one ``log1p`` a row.

The public `jaxsig.logistic_loss`, `gradient` and `hessian` are correctly rounded, at some 30 ns
an element; a solver evaluates them for every row at every iteration of every sweep point, and
needs them only to a few ulps. With ``a = |z|``, ``e = exp(-a)`` and ``q = e / (1 + e) =
sigmoid(-a)``:

.. math::

    \\ell = \\operatorname{log1p}(e) + a \\cdot (1 - y \\text{ if } z \\ge 0 \\text{ else } y),
    \\qquad \\sigma(z) - y = (1 - y) - q \\text{ or } q - y, \\qquad \\sigma'(z) = q (1 - q),

non-negative terms and differences without catastrophic cancellation for hard labels: stable
for every finite logit, no overflow, no NaN (``|z| = inf`` gives 0 or inf, as the exact loss).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxsig._derivatives import augmented_gram
from jaxsig._loss import per_feature, ridge
from jaxsig._model import Params, logits


def _pieces(z: jax.Array, y: jax.Array):
    a = jnp.abs(z)
    e = jnp.exp(-a)
    q = e / (1 + e)
    positive = z >= 0
    weight = jnp.where(positive, 1 - y, y)
    return a, e, q, positive, weight


@jax.custom_jvp
def loss(z: jax.Array, y: jax.Array) -> jax.Array:
    """Element-wise logistic loss to a few ulps."""
    a, e, _, _, weight = _pieces(z, y)
    return jnp.log1p(e) + jnp.where(weight == 0, 0.0, a * weight)


@jax.custom_jvp
def residual(z: jax.Array, y: jax.Array) -> jax.Array:
    """``sigmoid(z) - y`` to a few ulps (relative, for hard labels)."""
    _, _, q, positive, _ = _pieces(z, y)
    return jnp.where(positive, (1 - y) - q, q - y)


@residual.defjvp
def _residual_jvp(primals, tangents):
    # d(sigmoid(z) - y) = sigmoid'(z) dz - dy: autodiff of the branches would give 0 at z = 0.
    z, y = primals
    z_dot, y_dot = tangents
    return residual(z, y), curvature(z) * z_dot - y_dot


def curvature(z: jax.Array) -> jax.Array:
    """``sigmoid(z) sigmoid(-z)``."""
    q = jax.nn.sigmoid(-jnp.abs(z))
    return q * (1 - q)


@loss.defjvp
def _loss_jvp(primals, tangents):
    z, y = primals
    z_dot, y_dot = tangents
    big = jnp.finfo(z.dtype).max
    return loss(z, y), residual(z, y) * z_dot - jnp.clip(z, -big, big) * y_dot


def value_at(z: jax.Array, w: jax.Array, y: jax.Array, u: jax.Array, l2: jax.Array) -> jax.Array:
    """``sum_i u_i loss(z_i, y_i) + (1/2) sum_k l2_k w_k^2`` from the logits ``z``."""
    return jnp.sum(u * loss(z, y)) + ridge(l2, w)


def gradient_at(
    z: jax.Array, params: Params, X: jax.Array, y: jax.Array, u: jax.Array, l2: jax.Array
) -> Params:
    """``(X^T (u r) + l2 w, sum(u r))`` with ``r = sigmoid(z) - y``, from the logits ``z``."""
    r = u * residual(z, y)
    return Params(r @ X + per_feature(l2, params.w) * params.w, jnp.sum(r))


def value(
    params: Params, X: jax.Array, y: jax.Array, u: jax.Array, l2: jax.Array, offset=0.0
) -> jax.Array:
    """`value_at` the parameters' logits (plus ``offset``), for one output column."""
    return value_at(logits(params, X) + offset, params.w, y, u, l2)


def value_and_gradient(
    params: Params, X: jax.Array, y: jax.Array, u: jax.Array, l2: jax.Array, offset=0.0
) -> tuple[jax.Array, Params]:
    """Value and gradient from one evaluation of the logits (plus ``offset``)."""
    z = logits(params, X) + offset
    return value_at(z, params.w, y, u, l2), gradient_at(z, params, X, y, u, l2)


def hessian(params: Params, X: jax.Array, u: jax.Array, l2: jax.Array, offset=0.0) -> jax.Array:
    """``[X 1]^T diag(u sigma') [X 1] + diag(l2, 0)``, intercept last, at the logits plus
    ``offset``."""
    return augmented_gram(X, u * curvature(logits(params, X) + offset), l2)
