"""Hyperparameter sweeps: every point of a grid (or a zipped list) fitted in one compiled call.

Points are a leading batch axis under ``jax.vmap``: ``X`` is shared, never copied per point, and
a data fold is a 0/1 row weight. The sweep axis can be sharded over a device mesh.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

from jaxsig import _progress, _setup
from jaxsig import _validate as check
from jaxsig._convergence import warn_if_diverged
from jaxsig._distributed import auto_axes, axis_of
from jaxsig._model import Params, logits
from jaxsig._setup import Derivatives, GradientMode, SolverName
from jaxsig._solvers import _driver, _implicit, _objective
from jaxsig._solvers._base import Problem, Solver, model_params
from jaxsig._solvers.optimizer import Optimizer


class SweepResult(NamedTuple):
    """Stacked results, one row per point (P points).

    Attributes:
      points: each point's hyperparameters as given, ``{name: (P,)}`` for ``learning_rate``,
        ``l2``, ``l1``, ``seed``, ``threshold`` and ``fold`` (-1 without folds): NumPy arrays,
        or JAX arrays for a traced grid.
      params: ``w`` (P, d) and ``b`` (P,).
      history, iterations, converged, gradient_norm, best_epoch, validation_history: as in
        `FitResult`, with a leading P axis. A point whose objective or step became non-finite
        stopped there (``converged`` False, ``gradient_norm`` NaN) with its last parameters of
        finite objective, and `sweep` warns naming it (`ConvergenceWarning`).
      metrics: ``{"log_loss", "accuracy"}`` (P,) on the held-out fold, or on the training rows
        when there are no folds; accuracy at each point's threshold. Weighted by the sample and
        class weights.
    """

    points: dict
    params: Params
    history: jax.Array
    iterations: jax.Array
    converged: jax.Array
    gradient_norm: jax.Array
    metrics: dict[str, jax.Array]
    best_epoch: jax.Array | None = None
    validation_history: jax.Array | None = None


def _labels(chosen: dict, residual) -> list[str]:
    """``"point 3 (l2=1e-06, fold 2)"`` for each entry of ``residual`` (points, or points x
    outputs), naming the hyperparameters that vary; empty for a traced grid (not reported)."""
    if not check.is_concrete(*chosen.values()):
        return []
    varying = [name for name, values in chosen.items() if np.unique(np.asarray(values)).size > 1]
    labels = []
    for i in range(next(iter(chosen.values())).shape[0]):
        named = [
            f"fold {int(chosen[n][i])}" if n == "fold" else f"{n}={float(chosen[n][i]):g}"
            for n in varying
        ]
        labels.append(f"point {i}" + (f" ({', '.join(named)})" if named else ""))
    columns = int(np.prod(np.shape(residual)[1:], dtype=int))
    return [label for label in labels for _ in range(columns)]


def _indices(sizes: Mapping[str, int], n_folds: int, grid: bool) -> dict[str, np.ndarray]:
    """Each point's index into every axis: every combination (grid, the last axis fastest) or
    side by side (zip, length-1 axes broadcast), each repeated for every fold (folds fastest);
    ``"fold"`` indexes the folds."""
    names = list(sizes)
    if grid:
        combos = np.array(list(itertools.product(*(range(sizes[n]) for n in names))), np.int64)
        index = {n: combos.reshape(-1, len(names))[:, i] for i, n in enumerate(names)}
    else:
        lengths = {n: size for n, size in sizes.items() if size != 1}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"zipped sweep axes must have one length (or 1), got {lengths}")
        size = next(iter(lengths.values()), 1)
        index = {n: np.arange(size) if sizes[n] != 1 else np.zeros(size, np.int64) for n in names}
    size = next(iter(index.values())).size
    index = {n: np.repeat(i, n_folds) for n, i in index.items()}
    index["fold"] = np.tile(np.arange(n_folds), size)
    return index


def _check_folds(folds: ArrayLike, y: jax.Array) -> np.ndarray:
    """Fold numbers (n,) with values 0 .. k-1, k >= 2; each training part holds both classes."""
    if not check.is_concrete(folds):
        raise ValueError(
            "folds are traced, but their count sets the number of sweep points, which must be "
            "static: pass the fold numbers as a NumPy array (or close over them)"
        )
    ids = np.asarray(folds)
    n = y.shape[0]
    if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"folds must be integer fold numbers of shape ({n},), one per row, got "
            f"{ids.dtype} {ids.shape}; make them with jaxsig.kfold or jaxsig.stratified_kfold"
        )
    k = int(ids.max()) + 1
    if ids.min() < 0 or k < 2 or np.setdiff1d(np.arange(k), ids).size:
        raise ValueError(f"folds must number the folds 0 .. k-1 (k >= 2), got {np.unique(ids)}")
    if check.is_concrete(y):
        with jax.ensure_compile_time_eval():
            labels = np.asarray(y) > 0.5
        for j in range(k):
            train = labels[ids != j]
            if train.all() or not train.any():
                raise ValueError(f"the training rows of fold {j} hold one class only")
    return ids


def _metrics(params: Params, X, y, weight, threshold, offset) -> dict[str, jax.Array]:
    z = logits(params, X) + offset
    total = jnp.sum(weight)
    predicted = jax.nn.sigmoid(z) > threshold
    return {
        "log_loss": jnp.sum(weight * _objective.loss(z, y)) / total,
        "accuracy": jnp.sum(weight * (predicted == (y > 0.5))) / total,
    }


class _Shared(NamedTuple):
    """What every point shares (unbatched under vmap)."""

    X: jax.Array
    y: jax.Array
    v: jax.Array
    folds: jax.Array
    intercept: jax.Array
    params: Params
    tol: jax.Array
    offset: jax.Array
    penalty_factor: jax.Array | None  # (d,) multiplying each point's l1 and l2


def _problem(shared: _Shared, point: dict) -> Problem:
    """One point's problem: its hyperparameters and its fold's training rows."""
    held = _held_out(shared, point)
    # Without folds every row has fold 0 and the point's fold is -1: train on all rows.
    train = shared.v * jnp.where(point["fold"] < 0, 1.0, 1.0 - held)
    return Problem(
        shared.X,
        shared.y,
        train / jnp.sum(train),
        point["learning_rate"],
        *(
            point[name] if shared.penalty_factor is None else point[name] * shared.penalty_factor
            for name in ("l1", "l2")
        ),
        shared.intercept,
        jax.random.key(point["seed"]),
        shared.offset,
    )


def _held_out(shared: _Shared, point: dict) -> jax.Array:
    """0/1 weights of the rows metrics are measured on: the point's fold, or every row."""
    held = (shared.folds == point["fold"]).astype(shared.X.dtype)
    return jnp.where(point["fold"] < 0, 1.0, held)


# Per-point problems share X, y, the intercept switch; row weights and hyperparameters vary.
# Held-out rows for early stopping are shared too.
POINT_AXES = Problem(None, None, 0, 0, 0, 0, None, 0, None)
_AXES = _driver.Axes(POINT_AXES, None)


def _problems(shared: _Shared, point: dict) -> Problem:
    return jax.vmap(lambda p: _problem(shared, p), out_axes=POINT_AXES)(point)


def _detached(problems: Problem, shared: _Shared, derivatives: str):
    """What the loop runs on: with optimum derivatives, no tangent enters it."""
    if derivatives == "optimum":
        return jax.lax.stop_gradient((problems, shared.params))
    return problems, shared.params


def _outcome(
    solver: Solver,
    shared: _Shared,
    point: dict,
    problems: Problem,
    watch,
    run: _driver.Run,
    derivatives: str,
):
    params = run.params
    if watch is None:
        params = jax.vmap(functools.partial(model_params, solver))(params, run.state.solver_state)
    if derivatives == "optimum":
        params = jax.vmap(_implicit.optimum, in_axes=(0, POINT_AXES))(params, problems)
    params = Params(params.w, params.b * shared.intercept)

    def measured(p, point):
        weight = shared.v * _held_out(shared, point)
        return _metrics(p, shared.X, shared.y, weight, point["threshold"], shared.offset)

    return params, run, jax.vmap(measured)(params, point)


@functools.partial(jax.jit, static_argnames=("solver", "epochs", "until_tolerance", "derivatives"))
def _run(
    solver: Solver, shared: _Shared, point: dict, watch, *, epochs, until_tolerance, derivatives
):
    problems = _problems(shared, point)
    loop_problems, start = _detached(problems, shared, derivatives)
    run = _driver.solve(
        solver,
        loop_problems,
        start,
        watch,
        shared.tol,
        epochs=epochs,
        until_tolerance=until_tolerance,
        axes=_AXES,
        params_axis=None,
    )
    return _outcome(solver, shared, point, problems, watch, run, derivatives)


@functools.partial(jax.jit, static_argnames=("solver", "epochs", "derivatives"))
def _start(solver: Solver, shared: _Shared, point: dict, watch, *, epochs, derivatives):
    loop_problems, start = _detached(_problems(shared, point), shared, derivatives)
    return _driver.begin(solver, loop_problems, start, watch, epochs, _AXES, params_axis=None)


@functools.partial(
    jax.jit,
    static_argnames=("solver", "until_tolerance", "derivatives"),
    donate_argnames=("carry",),
)
def _advance(
    solver: Solver,
    shared: _Shared,
    point: dict,
    watch,
    carry,
    limit,
    *,
    until_tolerance,
    derivatives,
) -> _driver.Carry:
    """Every point in one loop (`_driver.advance`), the solver's epoch vmapped inside it."""
    loop_problems, _ = _detached(_problems(shared, point), shared, derivatives)
    return _driver.advance(
        solver, loop_problems, watch, carry, shared.tol, limit, until_tolerance, _AXES
    )


@functools.partial(jax.jit, static_argnames=("solver", "until_tolerance", "derivatives"))
def _finish(
    solver: Solver, shared: _Shared, point: dict, watch, carry, *, until_tolerance, derivatives
):
    run = _driver.finish(solver, carry, watch, shared.tol, until_tolerance, _AXES)
    return _outcome(solver, shared, point, _problems(shared, point), watch, run, derivatives)


def _run_in_chunks(
    solver: Solver,
    shared: _Shared,
    point: dict,
    watch,
    *,
    epochs,
    until_tolerance,
    derivatives,
    first_chunk,
):
    """`_run` in chunks from Python behind a progress bar; the same results."""
    size = next(iter(point.values())).shape[0]
    options = dict(until_tolerance=until_tolerance, derivatives=derivatives)
    with _progress.epochs_bar(epochs, f"sweep of {size} points") as show:
        carry = _driver.in_chunks(
            lambda c, limit: _advance(solver, shared, point, watch, c, limit, **options),
            _start(solver, shared, point, watch, epochs=epochs, derivatives=derivatives),
            epochs,
            _driver.epochs_run,
            show,
            first_chunk,
        )
    return _finish(solver, shared, point, watch, carry, **options)


def sweep(
    X: ArrayLike,
    y: ArrayLike,
    *,
    solver: SolverName = "gd",
    epochs: int = 1000,
    tol: ArrayLike | None = None,
    learning_rate: ArrayLike | None = None,
    l2: ArrayLike = 0.0,
    l1: ArrayLike | None = None,
    penalty_factor: ArrayLike | None = None,
    seed: ArrayLike = 0,
    threshold: ArrayLike = 0.5,
    folds: ArrayLike | None = None,
    grid: bool = True,
    sample_weight: ArrayLike | None = None,
    offset: ArrayLike | None = None,
    class_weight: str | Mapping[int, float] | None = None,
    fit_intercept: bool = True,
    optimizer: Optimizer | None = None,
    gradient: GradientMode = "closed_form",
    line_search: bool = False,
    batch_size: int | None = None,
    params: Params | None = None,
    validation=None,
    patience: int = 10,
    min_delta: ArrayLike = 0.0,
    differentiate: Derivatives | None = None,
    mesh: Mesh | None = None,
    mesh_axis: str | None = None,
    progress: bool = False,
) -> SweepResult:
    """Fits every point of a hyperparameter sweep in one compiled call.

    ``learning_rate``, ``l2``, ``l1``, ``seed`` (the PRNG seed of ``sgd``) and ``threshold``
    each take a scalar or a 1-D sequence, concrete or traced (inside your ``jit``, a traced
    grid skips the range checks). ``grid=True`` fits every combination; ``grid=False`` zips
    them (sequences of one length; scalars broadcast). With ``folds`` (fold numbers from
    `kfold` or `stratified_kfold`) every point is also fitted once per fold (folds vary
    fastest), held-out rows weighted 0, and ``metrics`` are measured on the held-out rows. The
    other arguments are `fit`'s, ``validation``, ``offset`` and ``penalty_factor`` included:
    each point stops early at its own best inside the one compiled call. The options and the
    number of points are static, the values traced: another sweep of the same size reuses the
    compiled program.

    ``mesh`` shards the points over ``mesh_axis`` (default: the mesh's first axis), whose size
    must divide the number of points. ``progress`` shows a bar over epochs as in `fit` (the
    points advance together, in chunks).

    >>> import jax.numpy as jnp, jaxsig
    >>> X = jnp.array([[0.0], [1.0], [2.0], [3.0]]); y = jnp.array([0.0, 1.0, 0.0, 1.0])
    >>> result = jaxsig.sweep(X, y, solver="newton", l2=[0.1, 1.0], tol=1e-6, epochs=50)
    >>> result.params.w.shape, result.converged.tolist()
    ((2, 1), [True, True])
    """
    _setup.check_options(
        solver, optimizer, learning_rate, l1, tol, gradient, line_search, batch_size, epochs
    )
    setup = _setup.prepare(X, y, sample_weight, class_weight, fit_intercept, params, offset)
    if setup.y.ndim != 1:
        raise ValueError(f"sweep needs one label column, got y of shape {setup.y.shape}")
    if tol is not None:
        check.check_hyperparameter("tol", tol)
    _setup.check_penalty_factor(penalty_factor, setup.X.shape[1])
    axes = {
        "learning_rate": check.as_sweep_axis(
            "learning_rate",
            _setup.DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate,
            low=0,
            open_low=True,
        ),
        "l2": check.as_sweep_axis("l2", l2, low=0),
        "l1": check.as_sweep_axis("l1", 0.0 if l1 is None else l1, low=0),
        "seed": check.as_sweep_axis("seed", seed, integer=True),
        "threshold": check.as_sweep_axis("threshold", threshold, low=0, high=1),
    }
    if folds is None:
        fold_ids, fold_numbers = np.zeros(setup.X.shape[0], np.int32), np.array([-1])
    else:
        fold_ids = _check_folds(folds, setup.y)
        fold_numbers = np.arange(fold_ids.max() + 1)
    index = _indices({n: a.shape[0] for n, a in axes.items()}, fold_numbers.size, grid)
    chosen = {n: a[index[n]] for n, a in axes.items()}
    chosen["fold"] = fold_numbers[index["fold"]]
    watch, train = None, None
    if validation is not None:
        watch, train = _setup.as_watch(validation, setup, patience, min_delta)
    derivatives = _setup.check_derivatives(differentiate, watch is not None)
    work = setup.X.dtype
    base = jnp.ones(setup.X.shape[0], work) if setup.v is None else setup.v.astype(work)
    shared = _Shared(
        setup.X,
        setup.y,
        base if train is None else train,
        jnp.asarray(fold_ids, jnp.int32),
        setup.intercept,
        setup.params,
        jnp.asarray(0.0 if tol is None else tol, work),
        _setup.offset_of(setup),
        None if penalty_factor is None else jnp.asarray(penalty_factor, work),
    )
    stacked = {
        name: jnp.asarray(values, jnp.int32 if name in ("seed", "fold") else work)
        for name, values in chosen.items()
    }
    if mesh is not None:
        shared, stacked = _place(mesh, mesh_axis, shared, stacked)
    if progress:
        _setup.check_concrete_for_progress((shared, stacked, watch))
    points = next(iter(stacked.values())).shape[0]
    cost = _progress.epoch_work(setup.X.shape, solver, points) if progress else 0.0
    method = _setup.make_solver(solver, optimizer, gradient, line_search, batch_size)
    options = dict(epochs=epochs, until_tolerance=tol is not None, derivatives=derivatives)
    if progress and _progress.worth_chunking(epochs, cost):
        first = _progress.first_chunk(cost)
        fitted, run, metrics = _run_in_chunks(
            method, shared, stacked, watch, **options, first_chunk=first
        )
    else:
        fitted, run, metrics = _run(method, shared, stacked, watch, **options)
    fitted = jax.tree.map(lambda a: a.astype(setup.dtype), fitted)
    warn_if_diverged(solver, run.residual, run.iterations, setup.X, _labels(chosen, run.residual))
    return SweepResult(
        chosen,
        fitted,
        run.history,
        run.iterations,
        run.converged,
        run.residual,
        metrics,
        run.best_epoch,
        run.validation,
    )


def _place(mesh: Mesh, axis: str | None, shared: _Shared, stacked: dict):
    """Points split over ``axis`` of ``mesh``; everything shared replicated."""
    axis = axis_of(mesh, axis)
    mesh = auto_axes(mesh)
    size = next(iter(stacked.values())).shape[0]
    devices = mesh.shape[axis]
    if size % devices:
        raise ValueError(
            f"the sweep has {size} points, which the mesh axis {axis!r} of {devices} devices "
            "does not divide; add or drop points"
        )
    replicated = NamedSharding(mesh, P())
    split = NamedSharding(mesh, P(axis))
    return (
        jax.device_put(shared, replicated),
        {k: jax.device_put(v, split) for k, v in stacked.items()},
    )
