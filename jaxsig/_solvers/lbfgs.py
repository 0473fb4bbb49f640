"""L-BFGS: optax.lbfgs with its zoom line search (strong Wolfe conditions)."""

from __future__ import annotations

import functools

import optax

from jaxsig._solvers._base import Problem, Solver, largest, smooth_value


@functools.cache
def lbfgs(memory_size: int = 10) -> Solver:
    tx = optax.lbfgs(memory_size=memory_size)

    def init(problem: Problem, params):
        return tx.init(params)

    def step(problem: Problem, params, state):
        def value_fn(p):
            return smooth_value(problem, p)

        value, grad = optax.value_and_grad_from_state(value_fn)(params, state=state)
        updates, state = tx.update(grad, state, params, value=value, grad=grad, value_fn=value_fn)
        return optax.apply_updates(params, updates), state, value, largest(grad)

    return Solver(init, step)
