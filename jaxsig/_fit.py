"""fit: validates at the Python boundary, picks a solver, runs it as one compiled loop."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxsig import _checkpoints, _degenerate, _progress
from jaxsig import _setup as setup_
from jaxsig import _validate as check
from jaxsig._convergence import ConvergenceWarning, warn_if_diverged
from jaxsig._model import Params
from jaxsig._setup import (
    DEFAULT_LEARNING_RATE as DEFAULT_LEARNING_RATE,
)
from jaxsig._setup import (
    Derivatives,
    GradientMode,
    SolverName,
)
from jaxsig._solvers import _driver, _implicit
from jaxsig._solvers._base import Problem
from jaxsig._solvers._driver import FitState
from jaxsig._solvers.optimizer import Optimizer


class FitResult(NamedTuple):
    """The outcome of `fit`.

    Attributes:
      params: fitted parameters: the iterate after the last epoch, or with ``validation`` the
        one with the lowest held-out loss (for optax.contrib's schedule-free optimizers, the
        parameters they evaluate at).
      history: objective at the parameters entering each epoch of this call, (epochs,) or
        (epochs, k); NaN after a stop.
      iterations: epochs run, per output (counting those of a resumed state).
      converged: whether the stopping measure met ``tol`` (with a fixed number of epochs and no
        tol, whether it reached 0).
      gradient_norm: the stopping measure at its last check: the largest gradient entry (for
        ``fista``, of the proximal gradient mapping) at the parameters entering the final
        epoch, which are the returned ones when ``tol`` was met. For ``sgd``, ``history`` is
        the mean mini-batch objective over each epoch and ``gradient_norm`` the largest
        mini-batch gradient entry of the last epoch: estimates.
      state: everything needed to continue: ``fit(..., resume=result.state)`` runs further
        epochs as if the first call had run them all, bit for bit. A pytree (several outputs
        lead every leaf with their axis); `jaxsig.io.save_state` writes it to a file.
      best_epoch: with ``validation``, the epoch the returned parameters entered (0 is the
        start), per output; else None.
      validation_history: with ``validation``, the held-out loss at the parameters entering
        each epoch, like ``history``; else None.
    """

    params: Params
    history: jax.Array
    iterations: jax.Array
    converged: jax.Array
    gradient_norm: jax.Array
    state: FitState
    best_epoch: jax.Array | None = None
    validation_history: jax.Array | None = None


def resumed(resume, solver, problem: Problem, params: Params, watch) -> FitState:
    """A state to resume from, checked against the structure this fit starts from."""
    template = jax.eval_shape(
        functools.partial(_driver.fresh_columns, solver), problem, params, watch
    )
    return _checkpoints.restore(resume, template)


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
    penalty_factor: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
    offset: ArrayLike | None = None,
    class_weight: str | Mapping[int, float] | None = None,
    fit_intercept: bool = True,
    optimizer: Optimizer | None = None,
    gradient: GradientMode = "closed_form",
    line_search: bool = False,
    batch_size: int | None = None,
    key: jax.Array | None = None,
    params: Params | None = None,
    validation=None,
    patience: int = 10,
    min_delta: ArrayLike = 0.0,
    resume: FitState | _checkpoints.Checkpoint | None = None,
    differentiate: Derivatives | None = None,
    progress: bool = False,
) -> FitResult:
    """Fits a logistic model, compiled as one loop over epochs.

    Minimises ``sum_i u_i loss(x_i w + b, y_i) + sum_k (l1_k |w_k| + (l2_k / 2) w_k^2)`` with
    ``u = v / sum(v)`` (v: sample weights times class weights, or ones); the intercept is never
    penalised. A 2-D ``y`` of shape (n, k) fits k independent columns. float16 and bfloat16
    data are fitted in float32 and the parameters returned in the input dtype.

    Args:
      X: features, (n, d); integer or boolean input is converted to floats.
      y: labels in ``[0, 1]``, (n,) or (n, k).
      solver: ``"gd"`` (the tutorial's gradient step, a line search, or any optax optimizer),
        ``"sgd"`` (shuffled mini-batches), ``"lbfgs"`` (two-loop recursion and Armijo
        backtracking), ``"newton"`` (closed-form Hessian, Cholesky, line search) or ``"fista"``
        (proximal, for ``l1``). Static: each solver compiles once.
      epochs: the number of epochs, or with ``tol`` or ``validation`` the most allowed
        (static); with ``resume``, the number of further epochs.
      tol: stop once the largest gradient entry (``fista``: of the proximal gradient mapping)
        is at most ``tol``, in a ``lax.while_loop``; None runs every epoch in a ``lax.scan``.
      learning_rate: step size for ``gd`` and ``sgd`` (default 0.01, the tutorial's), the first
        trial step with ``line_search``; traced. With a ready optax transformation it must be
        None. The other solvers choose their own steps.
      penalty_factor: one non-negative factor per feature (d,), traced, multiplying both
        penalties, ``l2 * penalty_factor`` and ``l1 * penalty_factor`` (glmnet's
        ``penalty.factor``, not rescaled): 0 leaves a coefficient unpenalised.
      l2, l1: penalty strengths, each a scalar or one per feature (d,), traced; ``l1`` needs
        ``solver="fista"``.
      sample_weight: non-negative row weights, (n,), traced.
      offset: a known term added to every logit, ``z = X w + b + offset``, (n,), traced
        (exposure or a prior model's logits; statsmodels' and R's ``offset``). Predict with
        the same term: ``predict_proba(params, X, offset=...)``.
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
      validation: held-out rows for early stopping: ``(X_val, y_val)``, ``(X_val, y_val,
        sample_weight_val)``, or a (n,) 0/1 mask of rows of ``X`` to hold out of training.
        The held-out loss (weighted mean logistic loss) is measured at the parameters entering
        every epoch; a run stops once it has not improved by more than ``min_delta`` for
        ``patience`` epochs, and returns the best parameters. Every output column stops at its
        own best, inside the one compiled loop.
      patience, min_delta: the early-stopping rule (traced).
      resume: a `FitState` (``result.state``) or a checkpoint from `jaxsig.io.load_state`, to
        continue from; it must come from the same solver, optimizer and shapes. The options
        and data are the caller's: continuing with the same ones gives the longer run's result
        bit for bit.
      differentiate: what ``jax.grad``, ``jax.jvp`` and friends of the result differentiate.
        ``"optimum"`` (the default): the derivative of the optimum with respect to ``X``,
        ``y``, ``sample_weight``, ``l2`` and ``l1``, by the implicit function theorem (one
        linear solve with the Hessian; the loop is not differentiated, so it works for every
        solver, in both modes, also through a ``while_loop``). The learning rate and the start
        have no effect on an optimum. ``"iterates"``: the derivative of the computation
        itself, unrolled through every epoch (reverse mode needs a fixed number of epochs and
        a solver without a line search: ``gd``, ``sgd``, ``fista`` or an optax optimizer).
        With ``validation`` the result is an iterate, and ``"iterates"`` is the default.
      progress: a progress bar (tqdm) on stderr when it is a terminal, shown once the run has
        lasted a second: the compiled loop then runs in chunks called from Python, about four
        a second, with the same result (bit for bit for one output column, to rounding for
        several). Off a terminal, or for a run too small to last a second, it is one compiled
        call as without a bar. Needs concrete inputs (not inside ``jit`` or ``vmap``).

    Returns:
      `FitResult`.

    Raises:
      ValueError: before compiling, for inputs of the wrong shape, NaN or inf, labels outside
        ``[0, 1]``, a single class, empty data, negative weights, bad hyperparameters, options
        that do not fit the solver, or a ``resume`` state of another structure.

    Warns:
      ConvergenceWarning: ``tol`` was given and some output neither reached it nor stopped
        early; or an epoch's objective or step was not finite, which stops that output with
        the last parameters whose objective is finite (``converged`` False, ``gradient_norm``
        NaN).

    Concrete inputs (NumPy arrays, numbers, and JAX arrays, also those a caller's ``jit`` or
    ``vmap`` closes over) are validated; traced arguments only by shape, and a missed
    tolerance then shows only in ``converged``.
    """
    setup_.check_options(
        solver, optimizer, learning_rate, l1, tol, gradient, line_search, batch_size, epochs
    )
    setup = setup_.prepare(X, y, sample_weight, class_weight, fit_intercept, params, offset)
    d = setup.X.shape[1]
    learning_rate = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
    check.check_hyperparameter("learning_rate", learning_rate, positive=True)
    setup_.check_penalty("l2", l2, d)
    l1 = 0.0 if l1 is None else l1
    setup_.check_penalty("l1", l1, d)
    setup_.check_penalty_factor(penalty_factor, d)
    if penalty_factor is not None:
        factor = jnp.asarray(penalty_factor, setup.X.dtype)
        l2, l1 = jnp.asarray(l2, factor.dtype) * factor, jnp.asarray(l1, factor.dtype) * factor
    if tol is not None:
        check.check_hyperparameter("tol", tol)
    watch, train = None, None
    if validation is not None:
        watch, train = setup_.as_watch(validation, setup, patience, min_delta)
    derivatives = setup_.check_derivatives(differentiate, watch is not None)
    work = setup.X.dtype
    problem = setup_.as_problem(setup, learning_rate, l1, l2, setup_.as_key(key), v=train)
    method = setup_.make_solver(solver, optimizer, gradient, line_search, batch_size)
    start = setup.params
    if resume is not None and params is not None:
        raise ValueError("give params (a start) or resume (a state to continue), not both")
    if resume is not None:
        start = resumed(resume, method, problem, setup.params, watch)
    tol_value = jnp.asarray(0.0 if tol is None else tol, work)
    arguments = (method, problem, start, watch, tol_value)
    if progress:
        setup_.check_concrete_for_progress((problem, start, watch))
    columns = 1 if setup.y.ndim == 1 else setup.y.shape[1]
    cost = _progress.epoch_work(setup.X.shape, solver, columns) if progress else 0.0
    until_tolerance = tol is not None
    if progress and _progress.worth_chunking(epochs, cost):
        with _progress.epochs_bar(epochs, f"fit {solver}") as show:
            run = _driver.run_in_chunks(
                *arguments,
                epochs=epochs,
                until_tolerance=until_tolerance,
                on_progress=show,
                first_chunk=_progress.first_chunk(cost),
            )
    else:
        # With optimum derivatives the loop is not differentiated: `_implicit` gives them.
        run = _driver.run(
            *arguments,
            epochs=epochs,
            until_tolerance=until_tolerance,
            implicit=derivatives == "optimum",
        )
    _warn_if_missed(run, tol, epochs, solver, watch)
    columns = [f"output {k}" for k in range(setup.y.shape[1])] if setup.y.ndim == 2 else [""]
    warn_if_diverged(solver, run.residual, run.iterations, setup.X, columns)
    fitted = run.params
    if watch is None and method.model_params is not None:
        # an optimizer whose model parameters differ from its iterate (schedule-free): they are
        # computed apart, so that a resumed run gives the same bits
        fitted = _driver.final_params(method, run.state)
        if setup.y.ndim == 2:
            fitted = Params(fitted.w.T, fitted.b)
        if derivatives == "optimum":
            fitted = _implicit.optimum(fitted, problem)
    fitted = Params(fitted.w, fitted.b * setup.intercept)
    if solver == "newton":  # the solver whose Hessian the degeneracy makes singular
        _degenerate.warn_if_degenerate(setup.X, setup.y, setup.v, fitted, l2, setup.intercept)
    fitted = jax.tree.map(lambda a: a.astype(setup.dtype), fitted)
    return FitResult(
        fitted,
        run.history,
        run.iterations,
        run.converged,
        run.residual,
        run.state,
        run.best_epoch,
        run.validation,
    )


def _warn_if_missed(run: _driver.Run, tol, epochs: int, solver: str, watch) -> None:
    if tol is None or not check.is_concrete(run.converged):
        return
    missed = ~np.asarray(run.converged) & ~np.isnan(np.asarray(run.residual))  # diverged: apart
    if watch is not None:
        missed &= ~(np.asarray(run.state.best.stale) >= np.asarray(watch.patience))
    if missed.sum():
        warnings.warn(
            f"{solver} did not reach tol={float(tol):g} in {epochs} epochs for "
            f"{int(missed.sum())} output(s); largest gradient entry "
            f"{float(np.nanmax(np.asarray(run.residual))):.3g}. Raise epochs, loosen tol, or add "
            "l2.",
            ConvergenceWarning,
            stacklevel=3,
        )
