"""Runs a solver: ``lax.scan`` for a fixed number of epochs, or ``lax.while_loop`` to a tolerance.

One output column at a time; several columns run as independent problems under ``vmap``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxsig._model import Params
from jaxsig._solvers._base import Problem, Solver


class Run(NamedTuple):
    params: Params
    history: jax.Array
    iterations: jax.Array
    converged: jax.Array
    residual: jax.Array


def _fixed(solver: Solver, problem: Problem, params: Params, epochs: int, tol) -> Run:
    def epoch(carry, _):
        p, state = carry
        p, state, value, residual = solver.step(problem, p, state)
        return (p, state), (value, residual)

    (params, _), (history, residuals) = jax.lax.scan(
        epoch, (params, solver.init(problem, params)), length=epochs
    )
    last = residuals[-1]
    return Run(params, history, jnp.asarray(epochs), last <= tol, last)


def _to_tolerance(solver: Solver, problem: Problem, params: Params, epochs: int, tol) -> Run:
    """Steps while the residual at the incoming parameters exceeds ``tol``; history is NaN after
    the stop."""
    dtype = params.w.dtype
    history = jnp.full((epochs,), jnp.nan, dtype)

    def running(carry):
        i, _, _, _, residual = carry
        return (i < epochs) & ~(residual <= tol)

    def body(carry):
        i, p, state, history, _ = carry
        new, state, value, residual = solver.step(problem, p, state)
        # The step that finds the tolerance met keeps the parameters it was given.
        done = residual <= tol
        p = jax.tree.map(lambda old, n: jnp.where(done, old, n), p, new)
        return i + 1, p, state, history.at[i].set(value), residual

    start = (
        jnp.asarray(0),
        params,
        solver.init(problem, params),
        history,
        jnp.asarray(jnp.inf, dtype),
    )
    i, params, _, history, residual = jax.lax.while_loop(running, body, start)
    converged = residual <= tol
    return Run(params, history, i - converged.astype(i.dtype), converged, residual)


@functools.partial(jax.jit, static_argnames=("solver", "epochs", "until_tolerance"))
def run(
    solver: Solver,
    problem: Problem,
    params: Params,
    tol: jax.Array,
    *,
    epochs: int,
    until_tolerance: bool,
) -> Run:
    """Solves every output column; ``problem.y`` and ``params`` carry a trailing column axis when
    there are several."""
    solve = _to_tolerance if until_tolerance else _fixed
    if params.w.ndim == 1:
        return solve(solver, problem, params, epochs, tol)
    column_axes = Problem(None, 1, None, None, None, None, None, None)
    columns = jax.vmap(
        lambda pr, p: solve(solver, pr, p, epochs, tol),
        in_axes=(column_axes, Params(1, 0)),
        out_axes=Run(Params(1, 0), 1, 0, 0, 0),
    )
    return columns(problem, params)
