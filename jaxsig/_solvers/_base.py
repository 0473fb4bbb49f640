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

from jaxsig._loss import per_feature
from jaxsig._model import Params
from jaxsig._solvers import _objective


class Problem(NamedTuple):
    """One output column's data and every traced hyperparameter.

    ``u`` are row weights, used as given: they sum to one (for mini-batches, in expectation).
    ``intercept`` is 1 to fit ``b`` and 0 to pin it at 0 (traced: switching never recompiles).
    The penalty is ``sum_k l1_k |w_k| + (l2_k / 2) w_k^2``, each strength a scalar or one per
    feature; ``key`` drives stochastic solvers; ``offset`` (n,) is a known term added to every
    logit (zeros without one).
    """

    X: jax.Array
    y: jax.Array
    u: jax.Array
    learning_rate: jax.Array
    l1: jax.Array
    l2: jax.Array
    intercept: jax.Array
    key: jax.Array
    offset: jax.Array


class Solver(NamedTuple):
    """A solver's pure functions; instances are static (hashable) arguments of the driver.

    ``model_params(params, state)`` gives the parameters the model is evaluated and returned
    at, when they differ from the iterate (optax.contrib's schedule-free optimizers)."""

    init: Callable[[Problem, Params], Any]
    step: Callable[[Problem, Params, Any], tuple[Params, Any, jax.Array, jax.Array]]
    model_params: Callable[[Params, Any], Params] | None = None


def model_params(solver: Solver, params: Params, state: Any) -> Params:
    return params if solver.model_params is None else solver.model_params(params, state)


def effective(problem: Problem, params: Params) -> Params:
    """The parameters the model sees: ``b`` is zero when the intercept is off."""
    return Params(params.w, params.b * problem.intercept)


def smooth_value(problem: Problem, params: Params) -> jax.Array:
    """The differentiable part: weighted mean loss + (l2 / 2) |w|^2."""
    return _objective.value(
        effective(problem, params), problem.X, problem.y, problem.u, problem.l2, problem.offset
    )


def smooth_value_and_grad(
    problem: Problem, params: Params, closed_form: bool = True
) -> tuple[jax.Array, Params]:
    """Smooth value and gradient; the intercept's gradient is zero when it is off."""
    if closed_form:
        value, grad = _objective.value_and_gradient(
            effective(problem, params), problem.X, problem.y, problem.u, problem.l2, problem.offset
        )
        return value, Params(grad.w, grad.b * problem.intercept)
    return jax.value_and_grad(lambda p: smooth_value(problem, p))(params)


def l1_norm(problem: Problem, params: Params) -> jax.Array:
    return jnp.sum(problem.l1 * jnp.abs(params.w))


def largest(tree: Params) -> jax.Array:
    """Infinity norm over the pytree, NaN turned into inf so that it never passes a tolerance."""
    norm = jnp.max(jnp.stack([jnp.max(jnp.abs(leaf)) for leaf in jax.tree.leaves(tree)]))
    return jnp.where(jnp.isnan(norm), jnp.inf, norm)


def rounding_slack(value: jax.Array) -> jax.Array:
    """A few ulps of the objective: line searches accept a step that fails their decrease test
    by no more than this, so that they do not stall once decreases fall below resolution."""
    return 4 * jnp.finfo(value.dtype).eps * jnp.abs(value)


def _varying_axes(leaf) -> frozenset:
    """The ``shard_map`` mesh axes a value varies over (its type's manual axes: ``mat`` in
    recent JAX, ``vma`` before); none outside ``shard_map``."""
    aval = jax.typeof(leaf)
    manual = getattr(aval, "manual_axis_type", None)
    if manual is not None:
        return frozenset(manual.varying)
    return frozenset(getattr(aval, "vma", ()))


def varying_like(tree, *references):
    """``tree`` marked as varying over every ``shard_map`` mesh axis that a leaf of
    ``references`` varies over: a loop's carry must keep its type, and a carry started from
    constants would otherwise change type in its first iteration. Outside ``shard_map``, and
    with ``check_vma=False``, nothing varies and ``tree`` comes back as it was."""
    axes = frozenset().union(*map(_varying_axes, jax.tree.leaves(references)))

    def mark(leaf):
        missing = tuple(sorted(axes - _varying_axes(leaf)))
        return jax.lax.pcast(leaf, missing, to="varying") if missing else leaf

    return jax.tree.map(mark, tree) if axes else tree


def logits(problem: Problem, params: Params) -> jax.Array:
    """``X w + b + offset`` with the intercept switch applied."""
    p = effective(problem, params)
    return problem.X @ p.w + p.b + problem.offset


class Evaluation(NamedTuple):
    """The smooth objective at some parameters, with the logits that gave it and its gradient:
    solvers keep it in their state, so that an epoch evaluates each point once."""

    z: jax.Array
    value: jax.Array
    grad: Params


def evaluate(problem: Problem, params: Params, z: jax.Array | None = None) -> Evaluation:
    """`Evaluation` at ``params`` (from their logits ``z`` when known: one pass over ``X``)."""
    p = effective(problem, params)
    z = logits(problem, params) if z is None else z
    value = _objective.value_at(z, p.w, problem.y, problem.u, problem.l2)
    grad = _objective.gradient_at(z, p, problem.X, problem.y, problem.u, problem.l2)
    return Evaluation(z, value, Params(grad.w, grad.b * problem.intercept))


def dot(a: Params, b: Params) -> jax.Array:
    return sum(jnp.sum(x * y) for x, y in zip(a, b, strict=True))


def moved(params: Params, move: Params, t: jax.Array) -> Params:
    return jax.tree.map(lambda p, d: p + t * d, params, move)


MAX_HALVINGS = 40


def _line(problem: Problem, params: Params, here: Evaluation, move: Params, start: jax.Array):
    """``t -> (logits, f, f')`` at ``params + t move``, at no pass over ``X``: the logits are
    affine in ``t``, ``z(t) = z + (t / start) (z_1 - z)`` with ``z_1`` the logits at ``t = start``
    (one pass, exact there)."""
    z_start = logits(problem, moved(params, move, start))
    dz = (z_start - here.z) / start
    dw = effective(problem, move).w

    def at(t):
        z = jnp.where(t == start, z_start, here.z + t * dz)
        w = effective(problem, moved(params, move, t)).w
        value = _objective.value_at(z, w, problem.y, problem.u, problem.l2)
        derivative = jnp.sum(problem.u * _objective.residual(z, problem.y) * dz) + jnp.sum(
            per_feature(problem.l2, w) * w * dw
        )
        return z, value, derivative

    return at


def search(
    problem: Problem,
    params: Params,
    here: Evaluation,
    move: Params,
    start: jax.Array,
    sufficient: float,
    slack: bool = True,
) -> tuple[jax.Array, jax.Array]:
    """Backtracking along ``move``: the first ``t = start / 2**j`` (``j <= 40``) with
    ``f(params + t move) <= f(params) + sufficient * t * slope`` (plus a few ulps of ``f`` with
    ``slack``, so that the search does not stall once decreases fall below resolution).

    The trials cost no pass over ``X`` (`_line`). Returns ``t`` and the logits at
    ``params + t move``; ``t`` is 0 when no trial passes, which leaves the parameters where they
    were.
    """
    slope = dot(here.grad, move)
    at = _line(problem, params, here, move, start)
    allowance = rounding_slack(here.value) if slack else 0.0

    def passes(t, value):
        return value <= here.value + sufficient * t * slope + allowance

    def too_long(carry):
        t, halvings, value = carry
        return ~passes(t, value) & (halvings < MAX_HALVINGS)

    def halve(carry):
        t, halvings, _ = carry
        return 0.5 * t, halvings + 1, at(0.5 * t)[1]

    init = varying_like((start, jnp.zeros((), jnp.int32), at(start)[1]), params, move, here)
    t, _, value = jax.lax.while_loop(too_long, halve, init)
    found = passes(t, value)
    return jnp.where(found, t, 0.0), jnp.where(found, at(t)[0], here.z)


def wolfe_search(
    problem: Problem,
    params: Params,
    here: Evaluation,
    move: Params,
    sufficient: float = 1e-4,
    curvature: float = 0.9,
) -> tuple[jax.Array, jax.Array]:
    """A step ``t`` along ``move`` meeting the weak Wolfe conditions, ``f(t) <= f(0) + sufficient
    t f'(0)`` (plus a few ulps of ``f``) and ``f'(t) >= curvature f'(0)``: from ``t = 1``,
    bisection of the bracket once a step fails the first, doubling while every step fails the
    second (Lewis and Overton's search), at most 40 trials, none a pass over ``X`` (`_line`).
    The second condition makes ``s . y > 0``, which L-BFGS's memory needs; it is waived for a
    decrease below the resolution of ``f``. Returns ``t`` and the logits there; a step that only
    decreases ``f`` is taken after 40 trials, and ``t`` is 0 when none does."""
    slope = dot(here.grad, move)
    one = jnp.ones((), slope.dtype)
    at = _line(problem, params, here, move, one)
    allowance = rounding_slack(here.value)

    def decreases(t, value):
        return value <= here.value + sufficient * t * slope + allowance

    def unfinished(carry):
        t, _, _, trials, value, derivative = carry
        # A decrease below resolution (the optimum, in working precision) is taken as it is:
        # the curvature of rounding noise would send t anywhere, and derivatives with it.
        settled = value > here.value - allowance
        met = decreases(t, value) & ((derivative >= curvature * slope) | settled)
        return ~met & (trials < MAX_HALVINGS)

    def next_trial(carry):
        t, low, high, trials, value, derivative = carry
        too_long = ~decreases(t, value)
        high = jnp.where(too_long, t, high)
        low = jnp.where(too_long, low, t)
        t = jnp.where(jnp.isfinite(high), 0.5 * (low + high), 2 * low)
        _, value, derivative = at(t)
        return t, low, high, trials + 1, value, derivative

    _, value, derivative = at(one)
    init = (one, 0 * one, jnp.inf * one, jnp.zeros((), jnp.int32), value, derivative)
    init = varying_like(init, params, move, here)
    t, _, _, _, value, _ = jax.lax.while_loop(unfinished, next_trial, init)
    found = decreases(t, value)
    return jnp.where(found, t, 0.0), jnp.where(found, at(t)[0], here.z)
