"""FISTA (accelerated proximal gradient) for L1 and elastic-net penalties.

The smooth part ``f`` (loss + (l2 / 2) |w|^2) has an ``L``-Lipschitz gradient with
``L = lambda_max([X 1]^T diag(u) [X 1]) / 4 + max(l2)``; the step is ``1 / L`` and the proximal
map of ``l1 |w|_1`` soft-thresholds ``w`` by ``l1 / L`` (the intercept is not penalised).
Momentum is restarted whenever the objective rises (O'Donoghue and Candes, 2015).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxsig._model import Params
from jaxsig._solvers._base import Problem, Solver, l1_norm, largest, smooth_value_and_grad


def lipschitz(problem: Problem) -> jax.Array:
    augmented = jnp.concatenate([problem.X, jnp.ones_like(problem.X[:, :1])], axis=1)
    gram = (augmented * problem.u[:, None]).T @ augmented
    return jnp.linalg.eigvalsh(gram)[-1] / 4 + jnp.max(problem.l2)


def _prox_step(problem: Problem, point: Params, grad: Params, step: jax.Array) -> Params:
    """``prox(point - step grad)``: a gradient step, then ``w`` soft-thresholded by ``l1 step``."""
    moved = jax.tree.map(lambda p, g: p - step * g, point, grad)
    w = jnp.sign(moved.w) * jnp.maximum(jnp.abs(moved.w) - problem.l1 * step, 0.0)
    return Params(w, moved.b)


@functools.cache
def fista() -> Solver:
    def init(problem: Problem, params):
        one = jnp.ones((), params.w.dtype)
        return params, one, 1 / lipschitz(problem), jnp.asarray(jnp.inf, params.w.dtype)

    def step(problem: Problem, params, state):
        extrapolated, momentum, step_size, last_value = state
        value, grad_here = smooth_value_and_grad(problem, params)
        value = value + l1_norm(problem, params)
        # The stopping measure is the gradient mapping at the incoming parameters, which are
        # what a tolerance stop returns.
        here = _prox_step(problem, params, grad_here, step_size)
        mapping = jax.tree.map(lambda p, h: (p - h) / step_size, params, here)
        _, grad = smooth_value_and_grad(problem, extrapolated)
        new = _prox_step(problem, extrapolated, grad, step_size)
        restart = value > last_value
        next_momentum = jnp.where(restart, 1.0, (1 + jnp.sqrt(1 + 4 * momentum**2)) / 2)
        beta = jnp.where(restart, 0.0, (momentum - 1) / next_momentum)
        extrapolated = jax.tree.map(lambda n, p: n + beta * (n - p), new, params)
        return new, (extrapolated, next_momentum, step_size, value), value, largest(mapping)

    return Solver(init, step)
