"""Mini-batch stochastic gradients with any optax optimizer, one epoch per step.

Each epoch draws a permutation from its own key and runs every batch inside the compiled loop.
The last, partial batch is padded with rows of zero weight, so every batch has one shape. A
step's value is the mean mini-batch objective over the epoch and its residual the largest
mini-batch gradient entry: estimates, which is why sgd runs a fixed number of epochs.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from jaxsig._solvers._base import Problem, Solver, largest, smooth_value, smooth_value_and_grad
from jaxsig._solvers.optimizer import Optimizer, evaluation_params, transformation


@functools.cache
def minibatch_sgd(optimizer: Optimizer, batch_size: int, closed_form: bool = True) -> Solver:
    def init(problem: Problem, params):
        return optax.with_extra_args_support(transformation(optimizer, problem)).init(
            params
        ), problem.key

    def step(problem: Problem, params, state):
        opt_state, key = state
        key, epoch_key = jax.random.split(key)
        n = problem.X.shape[0]
        if not isinstance(n, int):
            raise ValueError(
                "solver='sgd' needs a static row count (its batches per epoch): export it for "
                "one n, or use another solver with a symbolic row count"
            )
        n_batches = -(-n // batch_size)
        order = jax.random.permutation(epoch_key, n)
        padded = jnp.concatenate([order, jnp.zeros(n_batches * batch_size - n, order.dtype)])
        real = jnp.arange(n_batches * batch_size) < n
        batches = padded.reshape(n_batches, batch_size), real.reshape(n_batches, batch_size)
        tx = optax.with_extra_args_support(transformation(optimizer, problem))

        def batch_step(carry, batch):
            p, s = carry
            rows, mask = batch
            # Unbiased: each row's weight scaled by n / (real rows in the batch), never renormalised
            # to the batch's weight (that would erase sample and class weights, and divide by zero
            # on a batch of zero weights).
            count = jnp.sum(mask)
            u = problem.u[rows] * mask * (n / count).astype(problem.u.dtype)
            sub = problem._replace(
                X=problem.X[rows], y=problem.y[rows], u=u, offset=problem.offset[rows]
            )
            value, grad = smooth_value_and_grad(sub, p, closed_form)
            updates, s = tx.update(
                grad, s, p, value=value, grad=grad, value_fn=lambda q: smooth_value(sub, q)
            )
            return (optax.apply_updates(p, updates), s), (value * count / n, largest(grad))

        (params, opt_state), (values, residuals) = jax.lax.scan(
            batch_step, (params, opt_state), batches
        )
        return params, (opt_state, key), jnp.sum(values), jnp.max(residuals)

    return Solver(init, step, lambda params, state: evaluation_params(params, state[0]))
