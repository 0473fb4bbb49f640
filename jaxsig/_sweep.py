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

from jaxsig import _fit, _progress
from jaxsig import _validate as check
from jaxsig._distributed import auto_axes, axis_of
from jaxsig._model import Params, logits
from jaxsig._solvers import _driver, _objective
from jaxsig._solvers._base import Problem, Solver
from jaxsig._solvers.optimizer import Optimizer


class SweepResult(NamedTuple):
    """Stacked results, one row per point (P points).

    Attributes:
      points: each point's hyperparameters as given (NumPy), ``{name: (P,)}`` for
        ``learning_rate``, ``l2``, ``l1``, ``seed``, ``threshold`` and ``fold`` (-1 without
        folds).
      params: ``w`` (P, d) and ``b`` (P,).
      history, iterations, converged, gradient_norm: as in `FitResult`, with a leading P axis.
      metrics: ``{"log_loss", "accuracy"}`` (P,) on the held-out fold, or on the training rows
        when there are no folds; accuracy at each point's threshold. Weighted by the sample and
        class weights.
    """

    points: dict[str, np.ndarray]
    params: Params
    history: jax.Array
    iterations: jax.Array
    converged: jax.Array
    gradient_norm: jax.Array
    metrics: dict[str, jax.Array]


def _product(axes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every combination, the last axis fastest."""
    names = list(axes)
    combos = list(itertools.product(*(range(axes[n].size) for n in names)))
    index = np.array(combos, dtype=np.int64).reshape(len(combos), len(names))
    return {n: axes[n][index[:, i]] for i, n in enumerate(names)}


def _points(axes: Mapping[str, np.ndarray], folds: np.ndarray, grid: bool) -> dict[str, np.ndarray]:
    """The hyperparameter points, every combination (grid) or side by side (zip, length-1 axes
    broadcast), each repeated for every fold (folds fastest)."""
    if grid:
        chosen = _product(axes)
    else:
        lengths = {n: a.size for n, a in axes.items() if a.size != 1}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"zipped sweep axes must have one length (or 1), got {lengths}")
        size = next(iter(lengths.values()), 1)
        chosen = {n: np.broadcast_to(a, (size,)) for n, a in axes.items()}
    size = next(iter(chosen.values())).size
    chosen = {n: np.repeat(a, folds.size) for n, a in chosen.items()}
    chosen["fold"] = np.tile(folds, size)
    return chosen


def _check_folds(folds: ArrayLike, y: jax.Array) -> np.ndarray:
    """Fold numbers (n,) with values 0 .. k-1, k >= 2; each training part holds both classes."""
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
    labels = np.asarray(y) > 0.5
    for j in range(k):
        train = labels[ids != j]
        if train.all() or not train.any():
            raise ValueError(f"the training rows of fold {j} hold one class only")
    return ids


def _metrics(params: Params, X, y, weight, threshold) -> dict[str, jax.Array]:
    z = logits(params, X)
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
        point["l1"],
        point["l2"],
        shared.intercept,
        jax.random.key(point["seed"]),
    )


def _held_out(shared: _Shared, point: dict) -> jax.Array:
    """0/1 weights of the rows metrics are measured on: the point's fold, or every row."""
    held = (shared.folds == point["fold"]).astype(shared.X.dtype)
    return jnp.where(point["fold"] < 0, 1.0, held)


def _outcome(shared: _Shared, point: dict, run: _driver.Run):
    params = Params(run.params.w, run.params.b * shared.intercept)
    held = _held_out(shared, point)
    return params, run, _metrics(params, shared.X, shared.y, shared.v * held, point["threshold"])


# Per-point problems share X, y, the intercept switch; row weights and hyperparameters vary.
POINT_AXES = Problem(None, None, 0, 0, 0, 0, None, 0)


def _problems(shared: _Shared, point: dict) -> Problem:
    return jax.vmap(lambda p: _problem(shared, p), out_axes=POINT_AXES)(point)


def _start_points(solver: Solver, shared: _Shared, point: dict, epochs: int) -> _driver.Carry:
    problems = _problems(shared, point)
    return _driver.batch_start(solver, problems, shared.params, epochs, POINT_AXES, None)


def _advance_points(
    solver, shared: _Shared, point: dict, carry, limit, until_tolerance: bool
) -> _driver.Carry:
    """Every point in one loop (`_driver.advance`), the solver's step vmapped inside it."""
    step = _driver.batch_step(solver, _problems(shared, point), POINT_AXES)
    return _driver.advance(step, carry, shared.tol, limit, until_tolerance)


def _finish_points(shared: _Shared, point: dict, carry, until_tolerance: bool):
    def one(p, c):
        return _outcome(shared, p, _driver.finish(c, shared.tol, until_tolerance))

    return jax.vmap(one)(point, carry)


@functools.partial(jax.jit, static_argnames=("solver", "epochs", "until_tolerance"))
def _run(solver: Solver, shared: _Shared, point: dict, *, epochs: int, until_tolerance: bool):
    if until_tolerance:
        carry = _start_points(solver, shared, point, epochs)
        carry = _advance_points(solver, shared, point, carry, epochs, until_tolerance)
        return _finish_points(shared, point, carry, until_tolerance)

    def one(point):
        run = _driver.run(
            solver,
            _problem(shared, point),
            shared.params,
            shared.tol,
            epochs=epochs,
            until_tolerance=False,
        )
        return _outcome(shared, point, run)

    return jax.vmap(one)(point)


_start = jax.jit(_start_points, static_argnames=("solver", "epochs"))


@functools.partial(
    jax.jit, static_argnames=("solver", "until_tolerance"), donate_argnames=("carry",)
)
def _advance(
    solver: Solver, shared: _Shared, point: dict, carry, limit, *, until_tolerance: bool
) -> _driver.Carry:
    return _advance_points(solver, shared, point, carry, limit, until_tolerance)


_finish = jax.jit(_finish_points, static_argnames=("until_tolerance",))


def _run_in_chunks(
    solver: Solver, shared: _Shared, point: dict, *, epochs, until_tolerance, first_chunk
):
    """`_run` in chunks from Python behind a progress bar; the same results."""
    size = next(iter(point.values())).shape[0]
    with _progress.epochs_bar(epochs, f"sweep of {size} points") as show:
        carry = _driver.in_chunks(
            lambda c, limit: _advance(
                solver, shared, point, c, limit, until_tolerance=until_tolerance
            ),
            _start(solver, shared, point, epochs),
            epochs,
            _driver.epochs_run,
            show,
            first_chunk,
        )
    return _finish(shared, point, carry, until_tolerance=until_tolerance)


def sweep(
    X: ArrayLike,
    y: ArrayLike,
    *,
    solver: _fit.SolverName = "gd",
    epochs: int = 1000,
    tol: ArrayLike | None = None,
    learning_rate: ArrayLike | None = None,
    l2: ArrayLike = 0.0,
    l1: ArrayLike | None = None,
    seed: ArrayLike = 0,
    threshold: ArrayLike = 0.5,
    folds: ArrayLike | None = None,
    grid: bool = True,
    sample_weight: ArrayLike | None = None,
    class_weight: str | Mapping[int, float] | None = None,
    fit_intercept: bool = True,
    optimizer: Optimizer | None = None,
    gradient: _fit.GradientMode = "closed_form",
    line_search: bool = False,
    batch_size: int | None = None,
    params: Params | None = None,
    mesh: Mesh | None = None,
    mesh_axis: str | None = None,
    progress: bool = False,
) -> SweepResult:
    """Fits every point of a hyperparameter sweep in one compiled call.

    ``learning_rate``, ``l2``, ``l1``, ``seed`` (the PRNG seed of ``sgd``) and ``threshold``
    each take a scalar or a 1-D sequence. ``grid=True`` fits every combination; ``grid=False``
    zips them (sequences of one length; scalars broadcast). With ``folds`` (fold numbers from
    `kfold` or `stratified_kfold`) every point is also fitted once per fold (folds vary
    fastest), held-out rows weighted 0, and ``metrics`` are measured on the held-out rows. The
    other arguments are `fit`'s; the options and the number of points are static, the values
    traced: another sweep of the same size reuses the compiled program.

    ``mesh`` shards the points over ``mesh_axis`` (default: the mesh's first axis), whose size
    must divide the number of points. ``progress`` shows a bar over epochs as in `fit` (the
    points advance together, in chunks).

    >>> import jax.numpy as jnp, jaxsig
    >>> X = jnp.array([[0.0], [1.0], [2.0], [3.0]]); y = jnp.array([0.0, 1.0, 0.0, 1.0])
    >>> result = jaxsig.sweep(X, y, solver="newton", l2=[0.1, 1.0], tol=1e-6, epochs=50)
    >>> result.params.w.shape, result.converged.tolist()
    ((2, 1), [True, True])
    """
    _fit.check_options(
        solver, optimizer, learning_rate, l1, tol, gradient, line_search, batch_size, epochs
    )
    setup = _fit.prepare(X, y, sample_weight, class_weight, fit_intercept, params)
    if setup.y.ndim != 1:
        raise ValueError(f"sweep needs one label column, got y of shape {setup.y.shape}")
    if tol is not None:
        check.check_hyperparameter("tol", tol)
    axes = {
        "learning_rate": check.as_sweep_axis(
            "learning_rate",
            _fit.DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate,
            low=0,
            open_low=True,
        ),
        "l2": check.as_sweep_axis("l2", l2, low=0),
        "l1": check.as_sweep_axis("l1", 0.0 if l1 is None else l1, low=0),
        "seed": check.as_sweep_axis("seed", seed, integer=True),
        "threshold": check.as_sweep_axis("threshold", threshold, low=0, high=1),
    }
    if folds is None:
        fold_ids = np.zeros(setup.X.shape[0], np.int32)
        fold_numbers = np.array([-1])
    else:
        fold_ids = _check_folds(folds, setup.y)
        fold_numbers = np.arange(fold_ids.max() + 1)
    chosen = _points(axes, fold_numbers, grid)
    work = setup.X.dtype
    shared = _Shared(
        setup.X,
        setup.y,
        jnp.ones(setup.X.shape[0], work) if setup.v is None else setup.v.astype(work),
        jnp.asarray(fold_ids, jnp.int32),
        setup.intercept,
        setup.params,
        jnp.asarray(0.0 if tol is None else tol, work),
    )
    stacked = {
        name: jnp.asarray(values, jnp.int32 if name in ("seed", "fold") else work)
        for name, values in chosen.items()
    }
    if mesh is not None:
        shared, stacked = _place(mesh, mesh_axis, shared, stacked)
    if progress:
        _fit.check_concrete_for_progress((shared, stacked))
    points = next(iter(stacked.values())).shape[0]
    cost = _progress.epoch_work(setup.X.shape, solver, points)
    arguments = (
        _fit.make_solver(solver, optimizer, gradient, line_search, batch_size),
        shared,
        stacked,
    )
    if progress and _progress.worth_chunking(epochs, cost):
        fitted, run, metrics = _run_in_chunks(
            *arguments,
            epochs=epochs,
            until_tolerance=tol is not None,
            first_chunk=_progress.first_chunk(cost),
        )
    else:
        fitted, run, metrics = _run(*arguments, epochs=epochs, until_tolerance=tol is not None)
    fitted = jax.tree.map(lambda a: a.astype(setup.dtype), fitted)
    return SweepResult(
        chosen, fitted, run.history, run.iterations, run.converged, run.residual, metrics
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
