"""fit: validates at the Python boundary, picks a solver, runs it as one compiled loop."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from jaxsig import _progress
from jaxsig import _validate as check
from jaxsig._loss import row_weights
from jaxsig._model import Params, init
from jaxsig._solvers import _driver
from jaxsig._solvers._base import Problem, Solver
from jaxsig._solvers.gd import gradient_descent
from jaxsig._solvers.lbfgs import lbfgs
from jaxsig._solvers.newton import newton
from jaxsig._solvers.optimizer import Optimizer, optax_solver
from jaxsig._solvers.proximal import fista
from jaxsig._solvers.sgd import minibatch_sgd

SolverName = Literal["gd", "sgd", "lbfgs", "newton", "fista"]
GradientMode = Literal["closed_form", "autodiff"]

DEFAULT_LEARNING_RATE = 0.01


class ConvergenceWarning(UserWarning):
    """A tolerance was asked for and not reached within the allowed epochs."""


class FitResult(NamedTuple):
    """The outcome of `fit`.

    Attributes:
      params: fitted parameters.
      history: objective at the parameters entering each epoch, (epochs,) or (epochs, k); NaN
        after a tolerance stop.
      iterations: epochs run, per output.
      converged: whether the stopping measure met ``tol`` (with a fixed number of epochs and no
        tol, whether it reached 0).
      gradient_norm: the stopping measure at its last check: the largest gradient entry (for
        ``fista``, of the proximal gradient mapping) at the parameters entering the final
        epoch, which are the returned ones when ``tol`` was met. For ``sgd``, ``history`` is
        the mean mini-batch objective over each epoch and ``gradient_norm`` the largest
        mini-batch gradient entry of the last epoch: estimates.
    """

    params: Params
    history: jax.Array
    iterations: jax.Array
    converged: jax.Array
    gradient_norm: jax.Array


def make_solver(
    solver: str,
    optimizer: Optimizer | None,
    gradient: GradientMode,
    line_search: bool,
    batch_size: int | None,
) -> Solver:
    closed_form = gradient == "closed_form"
    if solver == "gd":
        if optimizer is None:
            return gradient_descent(closed_form, line_search)
        return optax_solver(optimizer, closed_form)
    if solver == "sgd":
        return minibatch_sgd(optax.sgd if optimizer is None else optimizer, batch_size, closed_form)
    return {"lbfgs": lbfgs, "newton": newton, "fista": fista}[solver]()


def check_options(
    solver, optimizer, learning_rate, l1, tol, gradient, line_search, batch_size, epochs
) -> None:
    if solver not in ("gd", "sgd", "lbfgs", "newton", "fista"):
        raise ValueError(f"solver must be gd, sgd, lbfgs, newton or fista, got {solver!r}")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if gradient not in ("closed_form", "autodiff"):
        raise ValueError(f"gradient must be 'closed_form' or 'autodiff', got {gradient!r}")
    if gradient != "closed_form" and solver not in ("gd", "sgd"):
        raise ValueError(f"gradient applies to solver 'gd' or 'sgd', not {solver!r}")
    if optimizer is not None and solver not in ("gd", "sgd"):
        raise ValueError(f"optimizer applies to solver 'gd' or 'sgd', not {solver!r}")
    transformation = isinstance(optimizer, optax.GradientTransformation)
    if transformation and learning_rate is not None:
        raise ValueError(
            "learning_rate is set by the optax transformation; pass an optimizer factory "
            "(e.g. optax.adam) to give it here"
        )
    if optimizer is not None and not (callable(optimizer) or transformation):
        raise ValueError(f"optimizer must be an optax transformation or factory: {optimizer!r}")
    if learning_rate is not None and solver in ("lbfgs", "newton", "fista"):
        raise ValueError(f"solver {solver!r} chooses its own step; do not pass learning_rate")
    if l1 is not None and solver != "fista":
        raise ValueError("an l1 penalty needs solver='fista' (the others are smooth solvers)")
    if line_search and (solver != "gd" or optimizer is not None):
        raise ValueError("line_search applies to solver='gd' without an optimizer")
    if solver == "sgd":
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"solver='sgd' needs a positive int batch_size, got {batch_size!r}")
        if tol is not None:
            raise ValueError("solver='sgd' runs a fixed number of epochs: tol must be None")
    elif batch_size is not None:
        raise ValueError("batch_size applies to solver='sgd' only")


def _class_weights(class_weight, y: jax.Array) -> np.ndarray | None:
    """Per-row weights from ``"balanced"`` (n / (2 n_c), as scikit-learn) or ``{0: a, 1: b}``."""
    if class_weight is None:
        return None
    if isinstance(y, jax.core.Tracer):
        raise ValueError("class_weight needs concrete labels; inside jit pass sample_weight")
    labels = np.asarray(y)
    if labels.ndim != 1 or not np.isin(labels, (0, 1)).all():
        raise ValueError("class_weight needs one column of hard labels 0 and 1")
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced' or a mapping, got {class_weight!r}")
        counts = np.bincount(labels.astype(int), minlength=2)
        per_class = labels.size / (2 * counts)
    elif isinstance(class_weight, Mapping):
        values = np.array(list(class_weight.values()), float)
        if set(class_weight) - {0, 1} or not (np.isfinite(values) & (values >= 0)).all():
            raise ValueError(f"class_weight keys must be 0 and 1, weights >= 0: {class_weight}")
        per_class = np.array([class_weight.get(0, 1.0), class_weight.get(1, 1.0)], float)
    else:
        raise ValueError(f"class_weight must be 'balanced' or a mapping, got {class_weight!r}")
    return per_class[labels.astype(int)]


class Setup(NamedTuple):
    """Validated data in the working dtype (float32 at least), shared by `fit` and sweeps."""

    X: jax.Array
    y: jax.Array
    v: jax.Array | None  # sample times class weights, unnormalised
    params: Params  # the start, intercept pinned at 0 when it is off
    intercept: jax.Array  # 1.0 or 0.0
    dtype: jnp.dtype  # the input's dtype, for the returned parameters


def prepare(X, y, sample_weight, class_weight, fit_intercept, params) -> Setup:
    """Validates data, weights and the start; half precisions move to float32: 1 / n and small
    weights would be subnormal (flushed to zero on XLA:CPU) and LAPACK has no half-precision
    Cholesky or eigensolver."""
    X = check.as_features(X)
    y = check.as_labels(y, X)
    v = check.as_sample_weight(sample_weight, X)
    by_class = _class_weights(class_weight, y)
    if by_class is not None:
        v = check.as_sample_weight(by_class if v is None else v * by_class, X)
    if params is None:
        params = init(X.shape[1], None if y.ndim == 1 else y.shape[1], dtype=X.dtype)
    check.check_params(params, X, y)
    work = jnp.promote_types(X.dtype, jnp.float32)
    intercept = jnp.asarray(fit_intercept, work)
    params = jax.tree.map(lambda a: jnp.asarray(a, work), params)
    params = params._replace(b=params.b * intercept)
    return Setup(X.astype(work), y.astype(work), v, params, intercept, X.dtype)


def as_problem(setup: Setup, learning_rate, l1, l2, key: jax.Array) -> Problem:
    """The solvers' problem: ``setup``'s data, normalised row weights and the hyperparameters."""
    return Problem(
        setup.X,
        setup.y,
        row_weights(setup.params, setup.X, setup.v),
        *(jnp.asarray(h, setup.X.dtype) for h in (learning_rate, l1, l2)),
        setup.intercept,
        key,
    )


def check_concrete_for_progress(tree) -> None:
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(tree)):
        raise ValueError(
            "progress=True runs the loop in chunks from Python and needs concrete inputs; "
            "inside jit or vmap leave it off"
        )


def as_key(key) -> jax.Array:
    """A typed PRNG key from None (seed 0), an int seed, a typed key or a legacy uint32 key."""
    if key is None or isinstance(key, int):
        return jax.random.key(0 if key is None else key)
    if not jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(key)  # a legacy uint32 key: same stream, one trace
    return key


def fit(
    X: ArrayLike,
    y: ArrayLike,
    *,
    solver: SolverName = "gd",
    epochs: int = 1000,
    tol: ArrayLike | None = None,
    learning_rate: ArrayLike | None = None,
    l2: ArrayLike = 0.0,
    l1: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
    class_weight: str | Mapping[int, float] | None = None,
    fit_intercept: bool = True,
    optimizer: Optimizer | None = None,
    gradient: GradientMode = "closed_form",
    line_search: bool = False,
    batch_size: int | None = None,
    key: jax.Array | None = None,
    params: Params | None = None,
    progress: bool = False,
) -> FitResult:
    """Fits a logistic model, compiled as one loop over epochs.

    Minimises ``sum_i u_i loss(x_i w + b, y_i) + l1 |w|_1 + (l2 / 2) |w|^2`` with
    ``u = v / sum(v)`` (v: sample weights times class weights, or ones); the intercept is never
    penalised. A 2-D ``y`` of shape (n, k) fits k independent columns. float16 and bfloat16
    data are fitted in float32 and the parameters returned in the input dtype.

    Args:
      X: features, (n, d); integer or boolean input is converted to floats.
      y: labels in ``[0, 1]``, (n,) or (n, k).
      solver: ``"gd"`` (the tutorial's gradient step, a line search, or any optax optimizer),
        ``"sgd"`` (shuffled mini-batches), ``"lbfgs"`` (optax.lbfgs with a zoom line search),
        ``"newton"`` (closed-form Hessian, Cholesky, line search) or ``"fista"`` (proximal, for
        ``l1``). Static: each solver compiles once.
      epochs: the number of epochs, or with ``tol`` the most allowed (static).
      tol: stop once the largest gradient entry (``fista``: of the proximal gradient mapping)
        is at most ``tol``, in a ``lax.while_loop``; None runs every epoch in a ``lax.scan``.
      learning_rate: step size for ``gd`` and ``sgd`` (default 0.01, the tutorial's), the first
        trial step with ``line_search``; traced. With a ready optax transformation it must be
        None. The other solvers choose their own steps.
      l2, l1: penalty strengths, traced; ``l1`` needs ``solver="fista"``.
      sample_weight: non-negative row weights, (n,), traced.
      class_weight: ``"balanced"`` (``n / (2 n_c)``, as scikit-learn) or ``{0: a, 1: b}``.
      fit_intercept: False pins ``b`` at 0, also when ``params`` are given (traced: no
        recompilation, and ``vmap`` over it works).
      optimizer: for ``gd`` or ``sgd``: an ``optax.GradientTransformation``, or a factory such
        as ``optax.adam`` called with the traced learning rate.
      gradient: ``"closed_form"`` or ``"autodiff"`` (``jax.grad``), for ``gd`` and ``sgd``.
      line_search: for ``gd`` without optimizer: Armijo backtracking.
      batch_size: rows per mini-batch for ``sgd`` (static); a last partial batch is padded.
      key: PRNG key (or an int seed) for ``sgd``'s shuffles (default ``jax.random.key(0)``).
      params: starting point; zeros by default.
      progress: a progress bar (tqdm) on stderr when it is a terminal, shown once the run has
        lasted a second: the compiled loop then runs in chunks called from Python, about four
        a second, with the same result (bit for bit for one output column, to rounding for
        several). Off a terminal, or for a run too small to last a second, it is one compiled
        call as without a bar. Needs concrete inputs (not inside ``jit`` or ``vmap``).

    Returns:
      `FitResult`.

    Raises:
      ValueError: before compiling, for inputs of the wrong shape, NaN or inf, labels outside
        ``[0, 1]``, a single class, empty data, negative weights, bad hyperparameters or
        options that do not fit the solver.

    Warns:
      ConvergenceWarning: ``tol`` was given and some output did not reach it.

    Concrete inputs are validated; inside ``jit`` or ``vmap`` only shapes can be, and a missed
    tolerance shows only in ``converged``.
    """
    check_options(
        solver, optimizer, learning_rate, l1, tol, gradient, line_search, batch_size, epochs
    )
    setup = prepare(X, y, sample_weight, class_weight, fit_intercept, params)
    learning_rate = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
    check.check_hyperparameter("learning_rate", learning_rate, positive=True)
    check.check_hyperparameter("l2", l2)
    l1 = 0.0 if l1 is None else l1
    check.check_hyperparameter("l1", l1)
    if tol is not None:
        check.check_hyperparameter("tol", tol)
    work = setup.X.dtype
    problem = as_problem(setup, learning_rate, l1, l2, as_key(key))
    arguments = (
        make_solver(solver, optimizer, gradient, line_search, batch_size),
        problem,
        setup.params,
        jnp.asarray(0.0 if tol is None else tol, work),
    )
    if progress:
        check_concrete_for_progress(problem)
    columns = 1 if setup.y.ndim == 1 else setup.y.shape[1]
    cost = _progress.epoch_work(setup.X.shape, solver, columns)
    if progress and _progress.worth_chunking(epochs, cost):
        with _progress.epochs_bar(epochs, f"fit {solver}") as show:
            run = _driver.run_in_chunks(
                *arguments,
                epochs=epochs,
                until_tolerance=tol is not None,
                on_progress=show,
                first_chunk=_progress.first_chunk(cost),
            )
    else:
        run = _driver.run(*arguments, epochs=epochs, until_tolerance=tol is not None)
    if tol is not None and not isinstance(run.converged, jax.core.Tracer):
        missed = int(np.sum(~np.asarray(run.converged)))
        if missed:
            warnings.warn(
                f"{solver} did not reach tol={float(tol):g} in {epochs} epochs for {missed} "
                f"output(s); largest gradient entry {float(jnp.max(run.residual)):.3g}. "
                "Raise epochs, loosen tol, or add l2.",
                ConvergenceWarning,
                stacklevel=2,
            )
    fitted = Params(run.params.w, run.params.b * setup.intercept)
    fitted = jax.tree.map(lambda a: a.astype(setup.dtype), fitted)
    return FitResult(fitted, run.history, run.iterations, run.converged, run.residual)
