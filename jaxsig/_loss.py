"""The logistic loss from logits, element-wise, and the regularised training objective."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxsig import _pairs, _widened
from jaxsig import _primitives as prim
from jaxsig._model import Params, logits

# Element-wise on broadcast (logits, labels) of one dtype; the public functions cast first.
_logistic_loss = jax.custom_jvp(jax.jit(prim.exact(_widened.loss, _pairs.loss)))
_gradient = jax.custom_jvp(jax.jit(prim.exact(_widened.loss_gradient, _pairs.loss_gradient)))


@_logistic_loss.defjvp
def _logistic_loss_jvp(primals, tangents):
    z, y = primals
    z_dot, y_dot = tangents
    # d/dz = sigmoid(z) - y; d/dy = -z, clipped to the largest finite value so that a zero label
    # tangent stays zero at z = +-inf (a tangent rule must stay linear: no branching on y_dot).
    big = jnp.finfo(z.dtype).max
    return _logistic_loss(z, y), _gradient(z, y) * z_dot - jnp.clip(z, -big, big) * y_dot


@_gradient.defjvp
def _gradient_jvp(primals, tangents):
    z, y = primals
    z_dot, y_dot = tangents
    return _gradient(z, y), prim.sigmoid_derivative(z) * z_dot - y_dot


def logistic_loss(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Element-wise logistic loss ``softplus(z) - y z = -y log s(z) - (1 - y) log s(-z)``.

    Accurate for hard or soft labels in ``[0, 1]`` and logits up to ``+-inf`` (the loss is then
    0 or inf, never NaN), computed without ``log(sigmoid)``; labels are cast to the logits' dtype.
    Its derivative in ``z`` is `loss_gradient`.

    >>> import jaxsig
    >>> print(jaxsig.logistic_loss(0.0, 1.0), jaxsig.logistic_loss(-1000.0, 1.0))
    0.6931472 1000.0
    """
    z = prim.float_input(logits)
    return _logistic_loss(z, jnp.asarray(labels).astype(z.dtype))


def loss_gradient(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """``d loss / d z = sigmoid(z) - y``, as ``(1 - y) - sigmoid(-z)`` for ``z >= 0`` (no
    cancellation for hard labels; for soft ones, within an ulp of ``max(sigmoid(z), y)``).

    >>> import jaxsig
    >>> print(jaxsig.loss_gradient(30.0, 1.0))
    -9.357623e-14
    """
    z = prim.float_input(logits)
    return _gradient(z, jnp.asarray(labels).astype(z.dtype))


def per_feature(l2: ArrayLike, w: jax.Array) -> jax.Array:
    """A penalty strength, a scalar or one per feature (d,), shaped to multiply ``w``."""
    l2 = jnp.asarray(l2)
    return l2.reshape(l2.shape + (1,) * (w.ndim - l2.ndim)) if l2.ndim else l2


def ridge(l2: ArrayLike, w: jax.Array) -> jax.Array:
    """``(1/2) sum_j l2_j w_j^2``: ``l2`` a scalar or one strength per feature (d,)."""
    return 0.5 * jnp.sum(per_feature(l2, w) * w * w)


def row_weights(params: Params, X: jax.Array, sample_weight: ArrayLike | None) -> jax.Array:
    """``v / sum(v)``, or ``1 / n`` per row, in the logits' dtype (integer X: the default float)."""
    dtype = jnp.result_type(X, params.w, params.b, float)
    if sample_weight is None:
        return jnp.full((X.shape[0],), 1.0 / X.shape[0], dtype)
    v = jnp.asarray(sample_weight, dtype)
    return v / jnp.sum(v)


@jax.jit
def weighted_objective(
    params: Params, X: ArrayLike, y: ArrayLike, u: ArrayLike, l2: ArrayLike, offset=0.0
):
    """``sum_j sum_i u_i loss(z_ij, y_ij) + (l2 / 2) |w|^2`` with the row weights ``u`` as given
    (solvers pass normalised, or for mini-batches unbiased, weights); ``z = X w + b + offset``."""
    z = logits(params, X)
    losses = logistic_loss(z + _column(offset, z), y)
    if losses.ndim == 1:
        losses = losses[:, None]
    return jnp.sum(jnp.asarray(u, losses.dtype) @ losses) + ridge(l2, params.w)


@jax.jit
def objective(
    params: Params,
    X: ArrayLike,
    y: ArrayLike,
    *,
    l2: ArrayLike = 0.0,
    sample_weight: ArrayLike | None = None,
    offset: ArrayLike | None = None,
) -> jax.Array:
    """Regularised training objective, summed over output columns.

    .. math::

        J(w, b) = \\sum_j \\frac{\\sum_i v_i \\ell(z_{ij}, y_{ij})}{\\sum_i v_i}
                  + \\frac{1}{2} \\sum_k l_{2,k} w_k^2, \\qquad z = X w + b + o,

    with ``v = 1`` when ``sample_weight`` is None and ``o`` the ``offset`` (n,), 0 when None;
    ``l2`` is one strength or one per feature (d,); the intercept is not penalised. Unchecked:
    use it inside your own ``jit`` code.
    """
    X = jnp.asarray(X)
    u = row_weights(params, X, sample_weight)
    return weighted_objective(params, X, y, u, l2, 0.0 if offset is None else offset)


def _column(offset: ArrayLike, z: jax.Array) -> jax.Array:
    """``offset`` (a scalar or (n,)) shaped to add to logits of shape (n,) or (n, k)."""
    offset = jnp.asarray(offset, z.dtype)
    return offset[:, None] if offset.ndim == 1 and z.ndim == 2 else offset
