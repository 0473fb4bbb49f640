"""Newton's method with the closed-form Hessian: a Cholesky solve, then Armijo backtracking."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_factor, cho_solve

from jaxsig._derivatives import augmented_gram
from jaxsig._model import Params
from jaxsig._solvers import _objective
from jaxsig._solvers._base import (
    Evaluation,
    Problem,
    Solver,
    evaluate,
    largest,
    moved,
    search,
)

_ARMIJO = 1e-4


def system(problem: Problem, z: jax.Array) -> jax.Array:
    """Hessian in ``(w, b)`` at the parameters whose logits are ``z``; with the intercept off
    its row and column become the identity's."""
    c = problem.u * _objective.curvature(z)
    h = augmented_gram(problem.X, c, problem.l2)
    keep = jnp.ones(h.shape[0], h.dtype).at[-1].set(problem.intercept)
    return h * jnp.outer(keep, keep) + jnp.diag(1 - keep)


@functools.cache
def newton() -> Solver:
    """``d = -H^{-1} g`` by Cholesky; step ``t`` halved from 1 until
    ``f(w + t d) <= f(w) + 1e-4 t g.d``. Needs ``l2 > 0`` or data that are not separable. The
    state keeps the evaluation at the current parameters (their logits and gradient)."""

    def init(problem: Problem, params: Params) -> Evaluation:
        return evaluate(problem, params)

    def step(problem: Problem, params: Params, here: Evaluation):
        g = jnp.append(here.grad.w, here.grad.b)
        direction = -cho_solve(cho_factor(system(problem, here.z)), g)
        move = Params(direction[:-1], direction[-1])
        t, z = search(problem, params, here, move, jnp.ones((), g.dtype), _ARMIJO)
        new = moved(params, move, t)
        return new, evaluate(problem, new, z), here.value, largest(here.grad)

    return Solver(init, step)
