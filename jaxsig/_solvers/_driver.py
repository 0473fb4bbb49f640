"""Runs a solver: ``lax.scan`` for a fixed number of epochs, or ``lax.while_loop`` to a tolerance.

One output column at a time; several columns run as independent problems under ``vmap``. For a
progress bar the same loop runs in chunks called from Python (`start`, `advance`, `finish`),
carrying the solver's state between calls.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxsig._model import Params
from jaxsig._solvers._base import Problem, Solver


class Run(NamedTuple):
    params: Params
    history: jax.Array
    iterations: jax.Array
    converged: jax.Array
    residual: jax.Array


class Carry(NamedTuple):
    """A run between chunks: history is NaN for epochs not run, residual inf before the first."""

    params: Params
    state: Any
    epoch: jax.Array
    history: jax.Array
    residual: jax.Array


def start(solver: Solver, problem: Problem, params: Params, epochs: int) -> Carry:
    dtype = params.w.dtype
    return Carry(
        params,
        solver.init(problem, params),
        jnp.asarray(0),
        jnp.full((epochs,), jnp.nan, dtype),
        jnp.asarray(jnp.inf, dtype),
    )


def advance(
    solver: Solver, problem: Problem, carry: Carry, stop_at: jax.Array, limit: jax.Array
) -> Carry:
    """Steps until ``limit`` epochs have run or the residual at the incoming parameters is at
    most ``stop_at`` (-inf for a fixed number of epochs)."""

    def running(c: Carry):
        return (c.epoch < limit) & ~(c.residual <= stop_at)

    def body(c: Carry) -> Carry:
        new, state, value, residual = solver.step(problem, c.params, c.state)
        # The step that finds the tolerance met keeps the parameters it was given.
        done = residual <= stop_at
        params = jax.tree.map(lambda old, n: jnp.where(done, old, n), c.params, new)
        return Carry(params, state, c.epoch + 1, c.history.at[c.epoch].set(value), residual)

    return jax.lax.while_loop(running, body, carry)


def finish(carry: Carry, tol: jax.Array, until_tolerance: bool) -> Run:
    converged = carry.residual <= tol
    iterations = (
        carry.epoch - converged.astype(carry.epoch.dtype) if until_tolerance else carry.epoch
    )
    return Run(carry.params, carry.history, iterations, converged, carry.residual)


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
    carry = advance(solver, problem, start(solver, problem, params, epochs), tol, epochs)
    return finish(carry, tol, until_tolerance=True)


COLUMN_AXES = Problem(None, 1, None, None, None, None, None, None)


@functools.partial(jax.jit, static_argnames=("solver", "epochs"))
def start_columns(solver: Solver, problem: Problem, params: Params, *, epochs: int) -> Carry:
    """`start` for every output column; several columns lead the carry's axes."""
    if params.w.ndim == 1:
        return start(solver, problem, params, epochs)
    return jax.vmap(
        lambda pr, p: start(solver, pr, p, epochs), in_axes=(COLUMN_AXES, Params(1, 0))
    )(problem, params)


@functools.partial(
    jax.jit, static_argnames=("solver", "until_tolerance"), donate_argnames=("carry",)
)
def advance_columns(
    solver: Solver, problem: Problem, carry: Carry, tol: jax.Array, limit, *, until_tolerance: bool
) -> tuple[Carry, Run]:
    """`advance` every output column, and the `Run` they would return if this chunk is the last
    (d-sized, so cheaper than another call)."""
    stop = tol if until_tolerance else jnp.full_like(tol, -jnp.inf)
    if carry.params.w.ndim == 1:
        carry = advance(solver, problem, carry, stop, limit)
        return carry, finish(carry, tol, until_tolerance)
    carry = jax.vmap(lambda pr, c: advance(solver, pr, c, stop, limit), in_axes=(COLUMN_AXES, 0))(
        problem, carry
    )
    run = jax.vmap(
        lambda c: finish(c, tol, until_tolerance), out_axes=Run(Params(1, 0), 1, 0, 0, 0)
    )(carry)
    return carry, run


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
    columns = jax.vmap(
        lambda pr, p: solve(solver, pr, p, epochs, tol),
        in_axes=(COLUMN_AXES, Params(1, 0)),
        out_axes=Run(Params(1, 0), 1, 0, 0, 0),
    )
    return columns(problem, params)


# A chunk should take about this long: the bar moves a few times a second, and the calls'
# overhead (tens of microseconds each) stays far below the work.
CHUNK_SECONDS = 0.25


def in_chunks(
    advance_to: Callable[[Any, int], Any],
    carry: Any,
    epochs: int,
    epochs_run: Callable[[Any], int],
    on_progress: Callable[[int], None],
) -> Any:
    """Calls ``advance_to(carry, limit)`` with growing limits until ``epochs`` have run or every
    problem has stopped short of its limit. The first chunk is one epoch; each next one is
    sized from the last one's speed to take about `CHUNK_SECONDS` (a first call that compiled
    looks slow, which only makes the second chunk short)."""
    done, chunk = 0, 1
    while done < epochs:
        limit = min(epochs, done + chunk)
        began = time.perf_counter()
        carry = advance_to(carry, limit)
        ran = epochs_run(carry)  # waits for the chunk
        seconds = time.perf_counter() - began
        on_progress(ran)
        if ran < limit:  # every problem met its tolerance
            break
        chunk = max(1, int(CHUNK_SECONDS * (ran - done) / max(seconds, 1e-9)))
        done = ran
    return carry


def epochs_run(carry: Carry) -> int:
    """The most epochs any column has run (a host read, no extra dispatch)."""
    return int(np.max(np.asarray(carry.epoch)))


def run_in_chunks(
    solver: Solver,
    problem: Problem,
    params: Params,
    tol: jax.Array,
    *,
    epochs: int,
    until_tolerance: bool,
    on_progress: Callable[[int], None],
) -> Run:
    """`run`, in chunks from Python, reporting the epochs run after each; the same result."""
    _, last = in_chunks(
        lambda carry_and_run, limit: advance_columns(
            solver, problem, carry_and_run[0], tol, limit, until_tolerance=until_tolerance
        ),
        (start_columns(solver, problem, params, epochs=epochs), None),
        epochs,
        lambda carry_and_run: epochs_run(carry_and_run[0]),
        on_progress,
    )
    return last
