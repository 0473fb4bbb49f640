"""Gradient descent: the tutorial's fixed step, or a backtracking (Armijo) line search."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxsig import _doubleword as dw
from jaxsig._solvers._base import (
    Evaluation,
    Problem,
    Solver,
    evaluate,
    largest,
    logits,
    search,
    smooth_value_and_grad,
)


def _kahan_add(params, compensation, step):
    """``params + step`` carrying the rounding lost in each addition (Kahan): thousands of small
    float32 steps otherwise drift by many ulps."""
    corrected = jax.tree.map(lambda s, c: s - c, step, compensation)
    new = jax.tree.map(lambda p, s: p + s, params, corrected)
    lost = jax.tree.map(lambda t, p, s: (t - p) - s, new, params, corrected)
    return new, lost


@functools.cache
def gradient_descent(closed_form: bool = True, line_search: bool = False) -> Solver:
    """``w <- w - t grad``; ``t`` is the learning rate, or found by halving from twice the last
    accepted step until ``f(w - t g) <= f(w) - t |g|^2 / 2``.

    The test compares objective values, so it cannot resolve decreases below the objective's
    rounding: in float32 the search stalls once gradients reach about 1e-4 to 1e-5 (tightening
    the test with slack instead makes the step wander near the optimum)."""

    def init(problem: Problem, params):
        compensation = jax.tree.map(jnp.zeros_like, params)
        return compensation, jnp.asarray(problem.learning_rate, params.w.dtype)

    def step(problem: Problem, params, state):
        compensation, last_step = state
        if line_search and closed_form:
            here = evaluate(problem, params)  # keeps the logits for the search
        else:
            value, grad = smooth_value_and_grad(problem, params, closed_form)
            here = Evaluation(logits(problem, params) if line_search else None, value, grad)
        if line_search:
            descent = jax.tree.map(jnp.negative, here.grad)
            t, _ = search(problem, params, here, descent, 2 * last_step, 0.5, slack=False)
            kept = jnp.where(t > 0, t, last_step)  # nothing passed: no move, the same next time
        else:
            t = kept = problem.learning_rate
        moves = jax.tree.map(lambda g: dw.mul(-t, g), here.grad)
        params, compensation = _kahan_add(params, compensation, moves)
        return params, (compensation, kept), here.value, largest(here.grad)

    return Solver(init, step)
