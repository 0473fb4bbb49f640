"""Any optax gradient transformation, or a factory called with the traced learning rate."""

from __future__ import annotations

import functools
from collections.abc import Callable

import optax

from jaxsig._solvers._base import Problem, Solver, largest, smooth_value_and_grad

Optimizer = optax.GradientTransformation | Callable[..., optax.GradientTransformation]


def transformation(optimizer: Optimizer, problem: Problem) -> optax.GradientTransformation:
    if isinstance(optimizer, optax.GradientTransformation):
        return optimizer
    return optimizer(problem.learning_rate)


@functools.cache
def optax_solver(optimizer: Optimizer, closed_form: bool = True) -> Solver:
    def init(problem: Problem, params):
        return transformation(optimizer, problem).init(params)

    def step(problem: Problem, params, state):
        value, grad = smooth_value_and_grad(problem, params, closed_form)
        updates, state = transformation(optimizer, problem).update(grad, state, params)
        return optax.apply_updates(params, updates), state, value, largest(grad)

    return Solver(init, step)
