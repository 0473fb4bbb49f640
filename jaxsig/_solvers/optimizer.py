"""Any optax gradient transformation, or a factory called with the traced learning rate."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import optax
from optax.contrib import ScheduleFreeState, schedule_free_eval_params

from jaxsig._solvers._base import Problem, Solver, largest, smooth_value, smooth_value_and_grad

Optimizer = optax.GradientTransformation | Callable[..., optax.GradientTransformation]


def evaluation_params(params, state):
    """The parameters a schedule-free optimizer (optax.contrib) evaluates at, which differ from
    its iterate; ``params`` for every other optimizer."""
    free = [
        s
        for s in jax.tree.leaves(state, is_leaf=lambda s: isinstance(s, ScheduleFreeState))
        if isinstance(s, ScheduleFreeState)
    ]
    return schedule_free_eval_params(free[0], params) if free else params


def transformation(optimizer: Optimizer, problem: Problem) -> optax.GradientTransformation:
    if isinstance(optimizer, optax.GradientTransformation):
        return optimizer
    return optimizer(problem.learning_rate)


@functools.cache
def optax_solver(optimizer: Optimizer, closed_form: bool = True) -> Solver:
    def make(problem: Problem) -> optax.GradientTransformationExtraArgs:
        return optax.with_extra_args_support(transformation(optimizer, problem))

    def init(problem: Problem, params):
        return make(problem).init(params)

    def step(problem: Problem, params, state):
        value, grad = smooth_value_and_grad(problem, params, closed_form)
        # Transformations that need them (line searches, Polyak steps, plateau schedules) get
        # the value, the gradient and the objective; the others ignore them.
        updates, state = make(problem).update(
            grad,
            state,
            params,
            value=value,
            grad=grad,
            value_fn=lambda p: smooth_value(problem, p),
        )
        return optax.apply_updates(params, updates), state, value, largest(grad)

    return Solver(init, step, evaluation_params)
