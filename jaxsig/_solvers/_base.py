"""What every solver shares: the problem pytree, traced hyperparameters and the solver protocol.

A solver is a pair of pure functions for one output column,

    init(problem, params) -> state
    step(problem, params, state) -> (params, state, value, residual)

where ``value`` is the objective at the incoming parameters and ``residual`` the stopping
measure there (the largest gradient entry, or the proximal gradient mapping). Several outputs
are solved as independent columns under ``vmap``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxsig._model import Params
from jaxsig._solvers import _objective


class Problem(NamedTuple):
    """One output column's data and every traced hyperparameter.

    ``u`` are row weights, used as given: they sum to one (for mini-batches, in expectation).
    ``intercept`` is 1 to fit ``b`` and 0 to pin it at 0 (traced: switching never recompiles).
    The penalty is ``l1 |w|_1 + (l2 / 2) |w|^2``; ``key`` drives stochastic solvers.
    """

    X: jax.Array
    y: jax.Array
    u: jax.Array
    learning_rate: jax.Array
    l1: jax.Array
    l2: jax.Array
    intercept: jax.Array
    key: jax.Array


class Solver(NamedTuple):
    """A solver's pure functions; instances are static (hashable) arguments of the driver."""

    init: Callable[[Problem, Params], Any]
    step: Callable[[Problem, Params, Any], tuple[Params, Any, jax.Array, jax.Array]]


def effective(problem: Problem, params: Params) -> Params:
    """The parameters the model sees: ``b`` is zero when the intercept is off."""
    return Params(params.w, params.b * problem.intercept)


def smooth_value(problem: Problem, params: Params) -> jax.Array:
    """The differentiable part: weighted mean loss + (l2 / 2) |w|^2."""
    return _objective.value(effective(problem, params), problem.X, problem.y, problem.u, problem.l2)


def smooth_value_and_grad(
    problem: Problem, params: Params, closed_form: bool = True
) -> tuple[jax.Array, Params]:
    """Smooth value and gradient; the intercept's gradient is zero when it is off."""
    if closed_form:
        value, grad = _objective.value_and_gradient(
            effective(problem, params), problem.X, problem.y, problem.u, problem.l2
        )
        return value, Params(grad.w, grad.b * problem.intercept)
    return jax.value_and_grad(lambda p: smooth_value(problem, p))(params)


def l1_norm(problem: Problem, params: Params) -> jax.Array:
    return problem.l1 * jnp.sum(jnp.abs(params.w))


def largest(tree: Params) -> jax.Array:
    """Infinity norm over the pytree, NaN turned into inf so that it never passes a tolerance."""
    norm = jnp.max(jnp.stack([jnp.max(jnp.abs(leaf)) for leaf in jax.tree.leaves(tree)]))
    return jnp.where(jnp.isnan(norm), jnp.inf, norm)


def rounding_slack(value: jax.Array) -> jax.Array:
    """A few ulps of the objective: line searches accept a step that fails their decrease test
    by no more than this, so that they do not stall once decreases fall below resolution."""
    return 4 * jnp.finfo(value.dtype).eps * jnp.abs(value)


MAX_HALVINGS = 40


def backtrack(
    problem: Problem,
    params: Params,
    move: Params,
    start: jax.Array,
    bound: Callable[[jax.Array], jax.Array],
) -> jax.Array:
    """Line search: the first ``t = start / 2**j`` (``j <= 40``) with
    ``f(params + t move) <= bound(t)``, ``f`` the smooth objective."""

    def too_long(carry):
        t, halvings = carry
        trial = jax.tree.map(lambda p, d: p + t * d, params, move)
        return (smooth_value(problem, trial) > bound(t)) & (halvings < MAX_HALVINGS)

    t, _ = jax.lax.while_loop(too_long, lambda c: (0.5 * c[0], c[1] + 1), (start, 0))
    return t
