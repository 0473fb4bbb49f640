"""Newton's method with the closed-form Hessian: a Cholesky solve, then Armijo backtracking."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_factor, cho_solve

from jaxsig._model import Params
from jaxsig._solvers import _objective
from jaxsig._solvers._base import (
    Problem,
    Solver,
    backtrack,
    effective,
    largest,
    rounding_slack,
    smooth_value_and_grad,
)

_ARMIJO = 1e-4


def _system(problem: Problem, params: Params) -> jax.Array:
    """Hessian in ``(w, b)``; with the intercept off its row and column become the identity's."""
    h = _objective.hessian(effective(problem, params), problem.X, problem.u, problem.l2)
    keep = jnp.ones(h.shape[0], h.dtype).at[-1].set(problem.intercept)
    return h * jnp.outer(keep, keep) + jnp.diag(1 - keep)


@functools.cache
def newton() -> Solver:
    """``d = -H^{-1} g`` by Cholesky; step ``t`` halved from 1 until
    ``f(w + t d) <= f(w) + 1e-4 t g.d``. Needs ``l2 > 0`` or data that are not separable."""

    def init(problem: Problem, params):
        return ()

    def step(problem: Problem, params, state):
        value, grad = smooth_value_and_grad(problem, params)
        g = jnp.append(grad.w, grad.b)
        direction = -cho_solve(cho_factor(_system(problem, params)), g)
        move = Params(direction[:-1], direction[-1])
        slope = jnp.dot(g, direction)

        t = backtrack(
            problem,
            params,
            move,
            jnp.ones((), value.dtype),
            lambda t: value + _ARMIJO * t * slope + rounding_slack(value),
        )
        params = jax.tree.map(lambda p, d: p + t * d, params, move)
        return params, state, value, largest(grad)

    return Solver(init, step)
