"""Runs a solver: ``lax.scan`` for a fixed number of epochs, or ``lax.while_loop`` to a tolerance.

A loop steps one problem, or a batch of them (output columns, sweep points) with the solver's
step vmapped inside one loop. For a progress bar the same loop runs in chunks called from
Python (`start`, `advance`, `finish`), carrying the solver's state between calls.
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
    """A run between chunks: history is NaN for epochs not run, residual inf before the first.
    For a batch every leaf leads with the batch axis."""

    params: Params
    state: Any
    epoch: jax.Array
    history: jax.Array
    residual: jax.Array


Step = Callable[[Params, Any], tuple[Params, Any, jax.Array, jax.Array]]


def _strongly_typed(leaf):
    """A weakly typed leaf (optax keeps some in its states) made strong: a loop's outputs are,
    and a chunk fed a weak input would compile a second program."""
    if jnp.issubdtype(leaf.dtype, jax.dtypes.extended):
        return leaf
    return jax.lax.convert_element_type(leaf, leaf.dtype)


def start(solver: Solver, problem: Problem, params: Params, epochs: int) -> Carry:
    dtype = params.w.dtype
    carry = Carry(
        params,
        solver.init(problem, params),
        jnp.zeros((), jnp.int32),
        jnp.full((epochs,), jnp.nan, dtype),
        jnp.asarray(jnp.inf, dtype),
    )
    return jax.tree.map(_strongly_typed, carry)


def _select(take: jax.Array, new, old):
    """``new`` for the problems where ``take`` (shape () or (batch,)), else ``old``."""

    def pick(n, o):
        return jnp.where(take.reshape(take.shape + (1,) * (jnp.ndim(n) - take.ndim)), n, o)

    return jax.tree.map(pick, new, old)


def advance(step: Step, carry: Carry, tol: jax.Array, limit, until_tolerance: bool) -> Carry:
    """Steps until ``limit`` epochs have run; with ``until_tolerance``, each problem only while
    the residual at its incoming parameters exceeds ``tol``.

    ``step(params, state)`` and ``carry`` are one problem's, or a batch's (``step`` vmapped).
    One epoch counter serves the batch: problems still running have all run that many epochs,
    so the history is written in place at one index rather than scattered per problem.
    """

    def running(loop):
        i, c = loop
        return (i < limit) & jnp.any(~(c.residual <= tol)) if until_tolerance else i < limit

    def write(history, i, value):
        return jax.lax.dynamic_update_index_in_dim(history, value.astype(history.dtype), i, -1)

    def every_epoch(loop):
        i, c = loop
        new, state, value, residual = step(c.params, c.state)
        return i + 1, Carry(new, state, c.epoch + 1, write(c.history, i, value), residual)

    def to_tolerance(loop):
        i, c = loop
        # One problem runs only while active; a constant lets XLA drop its selects.
        active = ~(c.residual <= tol) if c.residual.ndim else jnp.asarray(True)
        new, state, value, residual = step(c.params, c.state)
        # The step that finds the tolerance met keeps the parameters it was given.
        moved = active & ~(residual <= tol)
        last = jax.lax.dynamic_index_in_dim(c.history, i, axis=-1, keepdims=False)
        return i + 1, Carry(
            _select(moved, new, c.params),
            _select(active, state, c.state),
            c.epoch + active,
            write(c.history, i, jnp.where(active, value, last)),
            jnp.where(active, residual, c.residual),
        )

    body = to_tolerance if until_tolerance else every_epoch
    _, carry = jax.lax.while_loop(running, body, (jnp.max(carry.epoch), carry))
    return carry


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


COLUMN_AXES = Problem(None, 1, None, None, None, None, None, None)
# Carries and runs of several columns: the carry leads with the column axis; a Run keeps
# fit's layout, w (d, k), history (epochs, k).
COLUMN_RUN_AXES = Run(Params(1, 0), 1, 0, 0, 0)


def batch_start(
    solver: Solver, problems: Problem, params: Params, epochs: int, problem_axes, params_axes
) -> Carry:
    """`start` for a batch of problems (output columns, sweep points): the carry's leaves lead
    with the batch axis. ``problem_axes`` and ``params_axes`` are ``vmap``'s ``in_axes``."""
    return jax.vmap(
        lambda pr, p: start(solver, pr, p, epochs), in_axes=(problem_axes, params_axes)
    )(problems, params)


def batch_step(solver: Solver, problems: Problem, problem_axes) -> Step:
    """The solver's step for a batch of problems, as `advance` takes it."""
    return functools.partial(jax.vmap(solver.step, in_axes=(problem_axes, 0, 0)), problems)


def _one_or_columns(solver: Solver, problem: Problem, columns: bool) -> Step:
    if not columns:
        return functools.partial(solver.step, problem)
    return batch_step(solver, problem, COLUMN_AXES)


def _start_one_or_columns(solver: Solver, problem: Problem, params: Params, epochs: int) -> Carry:
    if params.w.ndim == 1:
        return start(solver, problem, params, epochs)
    return batch_start(solver, problem, params, epochs, COLUMN_AXES, Params(1, 0))


def _finish_one_or_columns(carry: Carry, tol: jax.Array, until_tolerance: bool) -> Run:
    if carry.history.ndim == 1:
        return finish(carry, tol, until_tolerance)
    return jax.vmap(lambda c: finish(c, tol, until_tolerance), out_axes=COLUMN_RUN_AXES)(carry)


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
    columns = params.w.ndim == 2
    if until_tolerance:
        carry = _start_one_or_columns(solver, problem, params, epochs)
        carry = advance(_one_or_columns(solver, problem, columns), carry, tol, epochs, True)
        return _finish_one_or_columns(carry, tol, until_tolerance)
    if not columns:
        return _fixed(solver, problem, params, epochs, tol)
    return jax.vmap(
        lambda pr, p: _fixed(solver, pr, p, epochs, tol),
        in_axes=(COLUMN_AXES, Params(1, 0)),
        out_axes=COLUMN_RUN_AXES,
    )(problem, params)


@functools.partial(jax.jit, static_argnames=("solver", "epochs"))
def start_columns(solver: Solver, problem: Problem, params: Params, *, epochs: int) -> Carry:
    """`start` for one problem or every output column (leading the carry's axes)."""
    return _start_one_or_columns(solver, problem, params, epochs)


@functools.partial(
    jax.jit, static_argnames=("solver", "until_tolerance"), donate_argnames=("carry",)
)
def advance_columns(
    solver: Solver, problem: Problem, carry: Carry, tol: jax.Array, limit, *, until_tolerance: bool
) -> tuple[Carry, Run]:
    """`advance` one problem or every output column, and the `Run` they would return if this
    chunk is the last (d-sized, so cheaper than another call)."""
    step = _one_or_columns(solver, problem, carry.history.ndim == 2)
    carry = advance(step, carry, tol, limit, until_tolerance)
    return carry, _finish_one_or_columns(carry, tol, until_tolerance)


# A chunk should take about this long: the bar moves a few times a second, and the calls'
# overhead (tens of microseconds each) stays far below the work.
CHUNK_SECONDS = 0.25


def in_chunks(
    advance_to: Callable[[Any, int], Any],
    carry: Any,
    epochs: int,
    epochs_run: Callable[[Any], int],
    on_progress: Callable[[int], None],
    first_chunk: int = 1,
) -> Any:
    """Calls ``advance_to(carry, limit)`` with growing limits until ``epochs`` have run or every
    problem has stopped short of its limit. After ``first_chunk`` epochs each chunk is sized
    from the last one's speed to take about `CHUNK_SECONDS` (a first call that compiled looks
    slow, which only makes the second chunk short)."""
    done, chunk = 0, first_chunk
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
    """The most epochs any problem has run (a host read, no extra dispatch)."""
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
    first_chunk: int = 1,
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
        first_chunk,
    )
    return last
