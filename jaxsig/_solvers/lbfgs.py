"""L-BFGS: the two-loop recursion over the last m curvature pairs, then a weak Wolfe line search.

An epoch makes two passes over ``X``: the logits at the unit step (the line search moves along
them without touching ``X`` again, `_base.wolfe_search`) and the gradient where the step lands,
which the state keeps for the next epoch. A curvature pair enters the memory only when the step
decreased the objective and ``s . y > sqrt(eps) |s| |y|``: pairs made of rounding noise near the
optimum would turn the inverse-Hessian estimate, and derivatives through it, into noise. When
no step passes the line search the memory is cleared and the next epoch tries the steepest
descent direction; if that fails too the state no longer changes (a fixed point).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxsig._model import Params
from jaxsig._solvers._base import (
    Evaluation,
    Problem,
    Solver,
    evaluate,
    largest,
    moved,
    wolfe_search,
)


class LbfgsState(NamedTuple):
    """The memory, newest pair at slot ``head - 1`` (mod m), and the evaluation at the current
    parameters. ``rho`` is ``1 / (s . y)``, 0 for an empty slot."""

    s: jax.Array
    y: jax.Array
    rho: jax.Array
    head: jax.Array
    here: Evaluation


def _flat(p: Params) -> jax.Array:
    return jnp.append(p.w, p.b)


def _params(v: jax.Array) -> Params:
    return Params(v[:-1], v[-1])


def _inverse_hessian_times(state: LbfgsState, g: jax.Array) -> jax.Array:
    """The two-loop recursion: ``H g`` for the L-BFGS inverse-Hessian estimate ``H``, scaled by
    ``s . y / y . y`` of the newest pair (steepest descent of length at most 1 without pairs)."""
    m = state.rho.shape[0]
    newest_first = (state.head - 1 - jnp.arange(m)) % m

    def backward(q, i):
        alpha = state.rho[i] * jnp.dot(state.s[i], q)
        return q - alpha * state.y[i], alpha

    q, alphas = jax.lax.scan(backward, g, newest_first)
    newest = newest_first[0]
    yy = jnp.dot(state.y[newest], state.y[newest])
    scale = jnp.where(
        state.rho[newest] > 0,
        1 / (state.rho[newest] * jnp.where(yy > 0, yy, 1)),
        1 / jnp.maximum(1, jnp.linalg.norm(g)),
    )

    def forward(r, i_alpha):
        i, alpha = i_alpha
        beta = state.rho[i] * jnp.dot(state.y[i], r)
        return r + state.s[i] * (alpha - beta), None

    r, _ = jax.lax.scan(forward, scale * q, (newest_first[::-1], alphas[::-1]))
    return r


@functools.cache
def lbfgs(memory_size: int = 10) -> Solver:
    def init(problem: Problem, params: Params) -> LbfgsState:
        p = params.w.shape[0] + 1
        dtype = params.w.dtype
        return LbfgsState(
            jnp.zeros((memory_size, p), dtype),
            jnp.zeros((memory_size, p), dtype),
            jnp.zeros((memory_size,), dtype),
            jnp.zeros((), jnp.int32),
            evaluate(problem, params),
        )

    def step(problem: Problem, params: Params, state: LbfgsState):
        here = state.here
        g = _flat(here.grad)
        d = -_inverse_hessian_times(state, g)
        steepest = -g / jnp.maximum(1, jnp.linalg.norm(g))
        d = jnp.where(jnp.dot(g, d) < 0, d, steepest)  # not a descent direction: start afresh
        t, z = wolfe_search(problem, params, here, _params(d))
        new = moved(params, _params(d), t)
        there = evaluate(problem, new, z)
        s, y = t * d, _flat(there.grad) - g
        sy = jnp.dot(s, y)
        eps = jnp.finfo(g.dtype).eps
        keep = (there.value < here.value) & (
            sy > jnp.sqrt(eps) * jnp.linalg.norm(s) * jnp.linalg.norm(y)
        )
        slot = state.head % memory_size
        memory = LbfgsState(
            state.s.at[slot].set(jnp.where(keep, s, state.s[slot])),
            state.y.at[slot].set(jnp.where(keep, y, state.y[slot])),
            state.rho.at[slot].set(jnp.where(keep, 1 / jnp.where(keep, sy, 1), state.rho[slot])),
            jnp.where(keep, slot + 1, state.head),
            there,
        )
        # No step passed: forget the pairs, so that the next epoch tries steepest descent.
        stuck = t == 0
        memory = memory._replace(
            rho=jnp.where(stuck, 0.0, memory.rho), head=jnp.where(stuck, 0, memory.head)
        )
        return new, memory, here.value, largest(here.grad)

    return Solver(init, step)
