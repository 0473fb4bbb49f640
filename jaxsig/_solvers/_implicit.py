"""Derivatives of an optimum by the implicit function theorem, in forward and reverse mode.

At a solution ``theta = (w, b)`` of the regularised problem the optimality condition

.. math::

    F(\\theta, h) = m \\odot \\bigl(\\nabla f(\\theta; X, y, u, l_2) + l_1 \\odot
    \\operatorname{sign}(w)\\bigr) + (1 - m) \\odot \\theta = 0

holds, where ``m`` marks the free coordinates: every ``w_k`` with ``l1_k = 0``, the support
``w_k != 0`` otherwise (FISTA's proximal fixed point, differentiated on its support), and ``b``
when the intercept is fitted. Off the support ``F = theta``, so those coordinates do not move.
Differentiating ``F(theta(h), h) = 0`` gives ``J dtheta = -dF/dh . dh`` with the symmetric
``J = M H M + (I - M)``, ``H`` the closed-form Hessian. `optimum` returns its argument and
carries that tangent: a ``jax.custom_jvp`` whose rule solves with ``lax.custom_linear_solve``,
so JAX transposes it for ``jax.grad`` and ``jax.vjp``. The solve is a Cholesky factorisation up
to `DENSE_MAX_FEATURES` features, and conjugate gradients on Hessian-vector products (Jacobi
preconditioned) beyond. The learning rate, the start and the PRNG key do not enter ``F``: an
optimum does not depend on them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_factor, cho_solve

from jaxsig._loss import per_feature
from jaxsig._model import Params
from jaxsig._solvers import _objective
from jaxsig._solvers._base import Problem

# Above this many features a dense Hessian (n d^2 to form, d^3 / 3 to factor) costs more than
# conjugate gradients on Hessian-vector products (two passes over X each).
DENSE_MAX_FEATURES = 256


def _free(params: Params, l1: jax.Array, intercept: jax.Array) -> jax.Array:
    """The free coordinates ``m`` as 0/1, (d + 1,), intercept last."""
    w = params.w
    free_w = (w != 0) | (jnp.broadcast_to(l1, w.shape) == 0)
    return jnp.append(free_w.astype(w.dtype), jnp.asarray(intercept, w.dtype))


def _flat(p: Params) -> jax.Array:
    return jnp.append(p.w, p.b)


def _condition(params: Params, m: jax.Array, X, y, u, l2, l1, intercept, offset) -> jax.Array:
    """``F(theta, h)``, flattened with the intercept last."""
    effective = Params(params.w, params.b * intercept)
    z = X @ effective.w + effective.b + offset
    g = _objective.gradient_at(z, effective, X, y, u, l2)
    subgradient = jnp.append(g.w + per_feature(l1, params.w) * jnp.sign(params.w), g.b)
    return m * subgradient + (1 - m) * _flat(params)


def _hessian_times(params: Params, m, X, u, l2, intercept, offset):
    """``v -> J v`` with ``J = M H M + (I - M)``, one pass over ``X`` each way."""
    effective = Params(params.w, params.b * intercept)
    c = u * _objective.curvature(X @ effective.w + effective.b + offset)
    l2 = jnp.broadcast_to(l2, params.w.shape)

    def matvec(v):
        free = m * v
        r = c * (X @ free[:-1] + free[-1])
        hv = jnp.append(r @ X + l2 * free[:-1], jnp.sum(r))
        return m * hv + (1 - m) * v

    diagonal = jnp.append(c @ (X * X) + l2, jnp.sum(c))
    return matvec, m * diagonal + (1 - m)


def _solver(params: Params, m, X, u, l2, intercept, offset):
    """``b -> J^{-1} b`` for `lax.custom_linear_solve`."""
    d = X.shape[1]
    if d <= DENSE_MAX_FEATURES:
        h = _objective.hessian(Params(params.w, params.b * intercept), X, u, l2, offset)
        factor = cho_factor(h * jnp.outer(m, m) + jnp.diag(1 - m))
        return lambda _, b: cho_solve(factor, b)
    matvec, diagonal = _hessian_times(params, m, X, u, l2, intercept, offset)
    tol = jnp.sqrt(jnp.finfo(X.dtype).eps) * jnp.finfo(X.dtype).eps ** 0.25  # eps^(3/4)

    def conjugate_gradients(_, b):
        x, _ = jax.scipy.sparse.linalg.cg(
            matvec, b, tol=tol, maxiter=10 * (d + 1), M=lambda r: r / diagonal
        )
        return x

    return conjugate_gradients


@jax.custom_jvp
def _optimum(params: Params, X, y, u, l2, l1, intercept, offset) -> Params:
    return params


@_optimum.defjvp
def _optimum_jvp(primals, tangents):
    params, X, y, u, l2, l1, intercept, offset = primals
    _, dX, dy, du, dl2, dl1, _, doffset = tangents
    m = _free(params, l1, intercept)

    def condition(X, y, u, l2, l1, offset):
        return _condition(params, m, X, y, u, l2, l1, intercept, offset)

    _, rhs = jax.jvp(condition, (X, y, u, l2, l1, offset), (dX, dy, du, dl2, dl1, doffset))
    matvec, _ = _hessian_times(params, m, X, u, l2, intercept, offset)
    solution = jax.lax.custom_linear_solve(
        matvec, -rhs, _solver(params, m, X, u, l2, intercept, offset), symmetric=True
    )
    return params, Params(solution[:-1], solution[-1])


def optimum(params: Params, problem: Problem) -> Params:
    """``params`` (an optimum of ``problem``), whose derivatives with respect to the problem's
    data and penalties are the optimum's. Several output columns (``y`` (n, k), ``w`` (d, k))
    are independent problems."""
    data = (problem.X, problem.y, problem.u, problem.l2, problem.l1, problem.intercept)
    if problem.y.ndim == 1:
        return _optimum(params, *data, problem.offset)
    return jax.vmap(
        _optimum,
        in_axes=(Params(1, 0), None, 1, None, None, None, None, None),
        out_axes=Params(1, 0),
    )(params, *data, problem.offset)
