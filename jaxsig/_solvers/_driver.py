"""Runs a solver: ``lax.scan`` for a fixed number of epochs, or ``lax.while_loop`` to a tolerance
or an early stop.

One epoch of one problem is `_epoch`; a batch (output columns, sweep points) runs it under
``vmap`` inside one loop with one shared epoch index. Everything a run needs to continue is a
`FitState` pytree, which a run starts from (fresh, or handed back to resume) and returns. For a
progress bar the same loop runs in chunks called from Python (`begin`, `advance_columns`),
carrying the state between calls.
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
from jaxsig._solvers import _implicit, _objective
from jaxsig._solvers._base import Problem, Solver, model_params, smooth_value, varying_like


class Watch(NamedTuple):
    """Held-out rows for early stopping: their features, labels and normalised weights, the
    patience in epochs, the least improvement that counts and the rows' offsets. Traced,
    except for shapes."""

    X: jax.Array
    y: jax.Array
    u: jax.Array
    patience: jax.Array
    min_delta: jax.Array
    offset: jax.Array


def held_out_loss(watch: Watch, params: Params) -> jax.Array:
    """Weighted mean logistic loss on the held-out rows (no penalty)."""
    z = watch.X @ params.w + params.b + watch.offset
    return jnp.sum(watch.u * _objective.loss(z, watch.y))


class Best(NamedTuple):
    """The parameters with the lowest held-out loss so far (improved by more than
    ``min_delta``), the epoch they entered (0: the start) and the epochs since."""

    params: Params
    loss: jax.Array
    epoch: jax.Array
    stale: jax.Array


class FitState(NamedTuple):
    """What a run needs to continue bit for bit: the iterate, the solver's own state (optimizer
    moments, L-BFGS memory, PRNG key, ...), the epochs run, the stopping measure of the last
    epoch (inf before the first) and, with held-out rows, the best parameters so far. Several
    problems (columns, sweep points) lead every leaf with their axis."""

    params: Params
    solver_state: Any
    epoch: jax.Array
    residual: jax.Array
    best: Best | None


class Carry(NamedTuple):
    """A run between chunks: the state, the epochs run by this call, this call's history and
    held-out curve (NaN for epochs not run), and the parameters entering the last epoch run
    (what a run returns if the next one's objective is not finite)."""

    state: FitState
    ran: jax.Array
    history: jax.Array
    validation: jax.Array | None
    previous: Params


class Run(NamedTuple):
    """A finished run. ``params`` are the best held-out ones when watching (the model's
    parameters, `model_params`), else the iterate, whose model parameters `final_params`
    gives; ``best_epoch`` is the epoch they entered (None without held-out rows)."""

    params: Params
    history: jax.Array
    iterations: jax.Array
    converged: jax.Array
    residual: jax.Array
    state: FitState
    validation: jax.Array | None
    best_epoch: jax.Array | None


def _strongly_typed(leaf):
    """A weakly typed leaf (optax keeps some in its states) made strong: a loop's outputs are,
    and a chunk fed a weak input would compile a second program."""
    if jnp.issubdtype(leaf.dtype, jax.dtypes.extended):
        return leaf
    return jax.lax.convert_element_type(leaf, leaf.dtype)


def fresh(solver: Solver, problem: Problem, params: Params, watch: Watch | None) -> FitState:
    """The state before the first epoch."""
    dtype = params.w.dtype
    best = None
    if watch is not None:
        zero = jnp.zeros((), jnp.int32)
        best = Best(params, jnp.asarray(jnp.inf, dtype), zero, zero)
    state = FitState(
        params,
        solver.init(problem, params),
        jnp.zeros((), jnp.int32),
        jnp.asarray(jnp.inf, dtype),
        best,
    )
    return jax.tree.map(_strongly_typed, state)


def _carry(state: FitState, epochs: int, watching: bool) -> Carry:
    dtype = state.params.w.dtype
    curve = jnp.full((epochs,), jnp.nan, dtype) if watching else None
    history = jnp.full((epochs,), jnp.nan, dtype)
    return Carry(state, jnp.zeros((), jnp.int32), history, curve, state.params)


def _where(take: jax.Array, new, old):
    return jax.tree.map(lambda n, o: jnp.where(take, n, o), new, old)


def diverged(state: FitState) -> jax.Array:
    """Whether a run stopped on a non-finite objective or step (its stopping measure is NaN)."""
    return jnp.isnan(state.residual)


def _live(residual: jax.Array, tol: jax.Array, until_tolerance: bool) -> jax.Array:
    """Still running by the stopping measure: above ``tol`` (with ``until_tolerance``), and not
    NaN (a run that diverged)."""
    return residual > tol if until_tolerance else ~jnp.isnan(residual)


def _epoch(
    solver: Solver,
    problem: Problem,
    watch: Watch | None,
    tol: jax.Array,
    until_tolerance: bool,
    state: FitState,
    previous: Params,
    alone: bool = False,
):
    """One epoch of one problem: the state after it, whether it ran, the objective and the
    held-out loss at the parameters entering it, and the parameters entering the last epoch
    run. ``alone``: the problem is not part of a batch, so the loop runs only while it does, and
    XLA can drop the selects on its state.

    A problem runs while its stopping measure exceeds ``tol`` (with ``until_tolerance``) and its
    held-out loss has improved within ``patience`` epochs; a stopped problem keeps its state.
    The epoch that finds the tolerance met, or the patience spent, keeps the parameters and the
    solver state it was given (the parameters are then what the run returns). An epoch whose
    objective is not finite, or whose step is not, stops the problem without counting as run:
    its stopping measure becomes NaN and its parameters the last ones with a finite objective
    (those entering this epoch, or, when their objective is the non-finite one, those entering
    the last epoch run).
    """
    active = _live(state.residual, tol, until_tolerance) if not alone else jnp.asarray(True)
    new, solver_state, value, residual = solver.step(problem, state.params, state.solver_state)
    finite_value = jnp.isfinite(value) & ~jnp.isnan(residual)
    moves = ~(residual <= tol) if until_tolerance else jnp.asarray(True)
    finite = finite_value & (_all_finite(new) | ~moves)  # a step not taken cannot fail
    best, loss = state.best, None
    if watch is not None:
        if not alone:
            active = active & (state.best.stale < watch.patience)
        current = model_params(solver, state.params, state.solver_state)
        loss = held_out_loss(watch, current)
        better = loss < best.loss - watch.min_delta
        best = _where(
            active & better,
            Best(current, loss, state.epoch, jnp.zeros_like(best.stale)),
            best._replace(stale=best.stale + active.astype(best.stale.dtype)),
        )
        moves = moves & (best.stale < watch.patience)
    stops = active & ~finite
    active = active & finite
    stepped = active & moves  # params and solver state stay consistent for a resume
    kept = _where(finite_value, state.params, previous)
    after = FitState(
        _where(stepped, new, _where(stops, kept, state.params)),
        _where(stepped, solver_state, state.solver_state),
        state.epoch + active.astype(state.epoch.dtype),
        jnp.where(stops, jnp.nan, jnp.where(active, residual, state.residual)),
        best,
    )
    return after, active, value, loss, _where(stepped, state.params, previous)


def _all_finite(params: Params) -> jax.Array:
    return jnp.all(jnp.isfinite(params.w)) & jnp.all(jnp.isfinite(params.b))


def _checked_end(problem: Problem, state: FitState, previous: Params) -> FitState:
    """The last epoch's step, which no later epoch evaluated: if the objective there is not
    finite, the run stops as `_epoch` would have stopped it (one more pass over the data)."""
    bad = ~jnp.isfinite(smooth_value(problem, state.params)) & ~jnp.isnan(state.residual)
    return state._replace(
        params=_where(bad, previous, state.params),
        residual=jnp.where(bad, jnp.nan, state.residual),
    )


def _end(problem: Problem, state: FitState, previous: Params, axes: Axes | None) -> FitState:
    if axes is None:
        return _checked_end(problem, state, previous)
    return jax.vmap(_checked_end, in_axes=(axes.problem, 0, 0))(problem, state, previous)


def _write(series: jax.Array, i, value, active):
    """``series[..., i] = value`` where the problem ran (NaN stays otherwise), for one problem
    or a whole batch (leading axis) at once: one dynamic_update_slice at the shared index, not a
    scatter of one index per problem (which XLA:CPU ran about as slowly as a gd epoch)."""
    old = jax.lax.dynamic_index_in_dim(series, i, axis=-1, keepdims=False)
    new = jnp.where(active, value.astype(series.dtype), old)
    return jax.lax.dynamic_update_index_in_dim(series, new, i, -1)


def _still_running(carry: Carry, watch: Watch | None, tol, until_tolerance: bool) -> jax.Array:
    state = carry.state
    running = _live(state.residual, tol, until_tolerance)
    if watch is not None:
        running = running & (state.best.stale < watch.patience)
    return running


class Axes(NamedTuple):
    """``vmap``'s ``in_axes`` for a batch's problems and held-out rows (None: shared)."""

    problem: Any
    watch: Any


NO_BATCH = None


def advance(
    solver: Solver,
    problem: Problem,
    watch: Watch | None,
    carry: Carry,
    tol: jax.Array,
    limit,
    until_tolerance: bool,
    axes: Axes | None = NO_BATCH,
) -> Carry:
    """Runs epochs in a ``while_loop`` until ``limit`` epochs of this call have run or every
    problem has stopped. ``axes`` (vmap's ``in_axes`` for the problem and the held-out rows)
    makes it a batch, whose carry leads every leaf with the batch axis."""

    def epoch(problem, watch, state, previous):
        return _epoch(
            solver, problem, watch, tol, until_tolerance, state, previous, alone=axes is None
        )

    if axes is not None:
        epoch = jax.vmap(epoch, in_axes=(axes.problem, axes.watch, 0, 0))

    def body(loop):
        i, c = loop
        state, active, value, loss, previous = epoch(problem, watch, c.state, c.previous)
        validation = None if watch is None else _write(c.validation, i, loss, active)
        ran = c.ran + active.astype(c.ran.dtype)
        history = _write(c.history, i, value, active)
        return i + 1, Carry(state, ran, history, validation, previous)

    def running(loop):
        i, c = loop
        if axes is None:
            go = _still_running(c, watch, tol, until_tolerance)
        else:
            go = jax.vmap(
                lambda w, c: _still_running(c, w, tol, until_tolerance), in_axes=(axes.watch, 0)
            )(watch, c)
        return (i < limit) & jnp.any(go)

    start = varying_like((jnp.max(carry.ran), carry), problem, watch, tol)
    _, carry = jax.lax.while_loop(running, body, start)
    return carry._replace(state=_end(problem, carry.state, carry.previous, axes))


def _scan(solver, problem, state: FitState, tol, epochs: int, axes: Axes | None):
    """A fixed number of epochs in a ``lax.scan`` (reverse-mode differentiable), the history
    stacked as the scan's output."""

    def one(problem, state, previous):
        after, active, value, _, previous = _epoch(
            solver, problem, None, tol, False, state, previous
        )
        return (after, previous), jnp.where(active, value, jnp.nan)

    step = one if axes is None else jax.vmap(one, in_axes=(axes.problem, 0, 0))

    def body(carry, _):
        return step(problem, *carry)

    carry = varying_like((state, state.params), problem, tol)
    (state, previous), history = jax.lax.scan(body, carry, length=epochs)
    return _end(problem, state, previous, axes), jnp.moveaxis(history, 0, -1)


def _finish(
    solver: Solver, state: FitState, history, validation, watch, tol, until_tolerance: bool
) -> Run:
    """The run's outcome for one problem. With held-out rows, the final parameters, which no
    epoch measured, are measured too."""
    converged = state.residual <= tol
    iterations = (
        state.epoch - converged.astype(state.epoch.dtype) if until_tolerance else state.epoch
    )
    params, best_epoch = state.params, None
    if watch is not None:
        current = model_params(solver, state.params, state.solver_state)
        better = held_out_loss(watch, current) < state.best.loss - watch.min_delta
        params = _where(better, current, state.best.params)
        best_epoch = jnp.where(better, state.epoch, state.best.epoch)
    return Run(
        params, history, iterations, converged, state.residual, state, validation, best_epoch
    )


def finish(
    solver: Solver, carry: Carry, watch, tol, until_tolerance: bool, axes: Axes | None = NO_BATCH
) -> Run:
    def one(watch, carry):
        return _finish(
            solver, carry.state, carry.history, carry.validation, watch, tol, until_tolerance
        )

    if axes is None:
        return one(watch, carry)
    return jax.vmap(one, in_axes=(axes.watch, 0))(watch, carry)


def starting_state(
    solver: Solver,
    problem: Problem,
    start: Params | FitState,
    watch: Watch | None,
    axes: Axes | None = NO_BATCH,
    params_axis: int | None = 0,
) -> FitState:
    """The state before this call's first epoch: fresh from a starting point, or a state handed
    back to resume. For a batch, ``params_axis`` is the starting parameters' batch axis (None:
    one start for every problem); a state always leads with the batch axis."""
    if isinstance(start, FitState):
        return start
    if axes is None:
        return fresh(solver, problem, start, watch)
    one = functools.partial(fresh, solver)
    return jax.vmap(one, in_axes=(axes.problem, params_axis, axes.watch))(problem, start, watch)


def begin(
    solver: Solver,
    problem: Problem,
    start: Params | FitState,
    watch: Watch | None,
    epochs: int,
    axes: Axes | None = NO_BATCH,
    params_axis: int | None = 0,
) -> Carry:
    """The carry before this call's first epoch (`starting_state`)."""
    state = starting_state(solver, problem, start, watch, axes, params_axis)
    carry = functools.partial(_carry, epochs=epochs, watching=watch is not None)
    return carry(state) if axes is None else jax.vmap(carry)(state)


def solve(
    solver: Solver,
    problem: Problem,
    start: Params | FitState,
    watch: Watch | None,
    tol: jax.Array,
    *,
    epochs: int,
    until_tolerance: bool,
    axes: Axes | None = NO_BATCH,
    params_axis: int | None = 0,
) -> Run:
    """A whole run of one problem, or of a batch (``axes``): a scan for fixed epochs, a
    while_loop with a tolerance or held-out rows."""
    if until_tolerance or watch is not None:
        carry = begin(solver, problem, start, watch, epochs, axes, params_axis)
        carry = advance(solver, problem, watch, carry, tol, epochs, until_tolerance, axes)
        return finish(solver, carry, watch, tol, until_tolerance, axes)

    state = starting_state(solver, problem, start, None, axes, params_axis)
    state, history = _scan(solver, problem, state, tol, epochs, axes)
    carry = Carry(state, state.epoch, history, None, state.params)
    return finish(solver, carry, None, tol, False, axes)


# Several output columns: the problems share X and the row weights; labels lead with the
# column axis after `columns_first`.
COLUMN_AXES = Axes(
    Problem(None, 0, None, None, None, None, None, None, None),
    Watch(None, 0, None, None, None, None),
)


def columns_first(problem: Problem, watch: Watch | None, params: Params | FitState):
    """Moves the column axis of labels (and of starting parameters) to the front."""
    problem = problem._replace(y=jnp.moveaxis(problem.y, -1, 0))
    if watch is not None:
        watch = watch._replace(y=jnp.moveaxis(watch.y, -1, 0))
    if isinstance(params, Params):
        params = Params(jnp.moveaxis(params.w, -1, 0), params.b)
    return problem, watch, params


def columns_last(run: Run) -> Run:
    """A batch run of columns in `fit`'s layout: w (d, k), history (epochs, k); the state keeps
    its leading column axis."""
    moved = lambda a: None if a is None else jnp.moveaxis(a, 0, -1)  # noqa: E731
    return run._replace(
        params=Params(moved(run.params.w), run.params.b),
        history=moved(run.history),
        validation=moved(run.validation),
    )


@functools.partial(jax.jit, static_argnames=("solver", "epochs", "until_tolerance", "implicit"))
def run(
    solver: Solver,
    problem: Problem,
    start: Params | FitState,
    watch: Watch | None,
    tol: jax.Array,
    *,
    epochs: int,
    until_tolerance: bool,
    implicit: bool = False,
) -> Run:
    """Solves every output column; ``problem.y`` (and ``start``'s parameters) carry a trailing
    column axis when there are several. With ``implicit`` no tangent enters the loop, and the
    returned model parameters carry the optimum's derivatives (`_implicit.optimum`)."""
    loop_problem = problem
    if implicit:
        loop_problem, start = jax.lax.stop_gradient((problem, start))
    if problem.y.ndim == 1:
        done = solve(
            solver, loop_problem, start, watch, tol, epochs=epochs, until_tolerance=until_tolerance
        )
    else:
        columns, watch, start = columns_first(loop_problem, watch, start)
        axes = COLUMN_AXES if watch is not None else COLUMN_AXES._replace(watch=None)
        done = columns_last(
            solve(
                solver,
                columns,
                start,
                watch,
                tol,
                epochs=epochs,
                until_tolerance=until_tolerance,
                axes=axes,
            )
        )
    if implicit and (watch is not None or solver.model_params is None):
        # the returned parameters are the model's: they carry the optimum's derivatives (an
        # iterate whose model parameters differ gets them once those are computed, in `fit`)
        done = done._replace(params=_implicit.optimum(done.params, problem))
    return done


def _layout(problem: Problem, watch: Watch | None, start):
    """One problem as it is, or columns moved first with their batch axes."""
    if problem.y.ndim == 1:
        return problem, watch, start, NO_BATCH
    problem, watch, start = columns_first(problem, watch, start)
    return (
        problem,
        watch,
        start,
        COLUMN_AXES if watch is not None else COLUMN_AXES._replace(watch=None),
    )


@functools.partial(jax.jit, static_argnames=("solver",))
def final_params(solver: Solver, state: FitState) -> Params:
    """The model's parameters of a finished state (one problem, or a batch leading every leaf),
    in a program of their own: the same state gives the same bits whichever loop produced it."""
    if state.epoch.ndim == 0:
        return model_params(solver, state.params, state.solver_state)
    return jax.vmap(functools.partial(model_params, solver))(state.params, state.solver_state)


def fresh_columns(solver: Solver, problem: Problem, params: Params, watch: Watch | None):
    """`fresh` for one problem or every output column (leading the state's axes): the
    structure a resumed state must have."""
    problem, watch, params, axes = _layout(problem, watch, params)
    return starting_state(solver, problem, params, watch, axes)


@functools.partial(jax.jit, static_argnames=("solver", "epochs"))
def begin_columns(
    solver: Solver, problem: Problem, start, watch: Watch | None, *, epochs: int
) -> Carry:
    """`begin` for one problem or every output column (leading the carry's axes)."""
    problem, watch, start, axes = _layout(problem, watch, start)
    return begin(solver, problem, start, watch, epochs, axes)


@functools.partial(
    jax.jit, static_argnames=("solver", "until_tolerance"), donate_argnames=("carry",)
)
def advance_columns(
    solver: Solver,
    problem: Problem,
    watch: Watch | None,
    carry: Carry,
    tol: jax.Array,
    limit,
    *,
    until_tolerance: bool,
) -> tuple[Carry, Run]:
    """`advance` one problem or every output column, and the `Run` they would return if this
    chunk is the last (d-sized, so cheaper than another call)."""
    problem, watch, _, axes = _layout(problem, watch, None)
    carry = advance(solver, problem, watch, carry, tol, limit, until_tolerance, axes)
    done = finish(solver, carry, watch, tol, until_tolerance, axes)
    return carry, done if axes is None else columns_last(done)


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
        if ran < limit:  # every problem stopped
            break
        chunk = max(1, int(CHUNK_SECONDS * (ran - done) / max(seconds, 1e-9)))
        done = ran
    return carry


def epochs_run(carry: Carry) -> int:
    """The most epochs any problem has run in this call (a host read, no extra dispatch)."""
    return int(np.max(np.asarray(carry.ran)))


def run_in_chunks(
    solver: Solver,
    problem: Problem,
    start: Params | FitState,
    watch: Watch | None,
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
            solver, problem, watch, carry_and_run[0], tol, limit, until_tolerance=until_tolerance
        ),
        (begin_columns(solver, problem, start, watch, epochs=epochs), None),
        epochs,
        lambda carry_and_run: epochs_run(carry_and_run[0]),
        on_progress,
        first_chunk,
    )
    return last
