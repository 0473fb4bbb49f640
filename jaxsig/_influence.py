"""The influence of each training row: the derivative of a quantity of the fitted model with
respect to the row's weight, by the implicit function theorem (one linear solve, no refit), and
the exact effect of removing a row, by a few Newton steps from the optimum."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxsig import _setup
from jaxsig import _validate as check
from jaxsig._loss import logistic_loss
from jaxsig._model import Params, logits
from jaxsig._solvers import _implicit
from jaxsig._solvers.newton import newton


def held_out_loss(X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None):
    """``params -> `` the weighted mean logistic loss on ``(X, y)``, as `influence` takes it."""
    X = check.as_features(X, "held-out X")
    y = check.as_labels(y, X, require_both_classes=False)
    v = check.as_sample_weight(sample_weight, X, "held-out sample_weight")
    v = jnp.ones(X.shape[0], X.dtype) if v is None else v.astype(X.dtype)

    def loss(params: Params) -> jax.Array:
        losses = logistic_loss(logits(params, X.astype(params.w.dtype)), y.astype(params.w.dtype))
        if losses.ndim == 2:
            losses = losses.sum(1)
        return jnp.sum(v * losses) / jnp.sum(v)

    return loss


def _prepared(params, X, y, of, l1, l2, sample_weight, fit_intercept):
    """The validated setup, the target as a function of the parameters and the row weights."""
    setup = _setup.prepare(X, y, sample_weight, None, fit_intercept, params)
    d = setup.X.shape[1]
    if isinstance(of, tuple | list):
        if len(of) not in (2, 3) or jnp.ndim(of[0]) != 2 or jnp.shape(of[0])[1] != d:
            raise ValueError(
                f"of must be (X_eval, y_eval[, sample_weight_eval]) with X_eval of {d} "
                f"features, got {len(of)} item(s), X_eval of shape {jnp.shape(of[0])}"
            )
        of = held_out_loss(*of)
    if not callable(of):
        raise ValueError(
            "of must be a function of the parameters or (X_eval, y_eval[, sample_weight_eval])"
        )
    _setup.check_penalty("l2", l2, d)
    _setup.check_penalty("l1", l1, d)
    work = setup.X.dtype
    v = jnp.ones(setup.X.shape[0], work) if setup.v is None else setup.v.astype(work)
    return setup, of, v


def _model(setup, theta: Params) -> Params:
    return Params(theta.w, theta.b * setup.intercept)


def influence(
    params: Params,
    X: ArrayLike,
    y: ArrayLike,
    of: Callable[[Params], jax.Array] | tuple,
    *,
    l2: ArrayLike = 0.0,
    l1: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
    fit_intercept: bool = True,
) -> jax.Array:
    """The derivative of ``of(params)`` with respect to each training row's weight, (n,).

    ``params`` must be the optimum `fit` found on ``X``, ``y`` with these ``l2``, ``l1``,
    ``sample_weight`` (default ones) and ``fit_intercept``; nothing is refitted. ``of`` is a
    function of the parameters returning a scalar (one prediction, say
    ``lambda p: jaxsig.logits(p, x[None])[0]``), or ``(X_eval, y_eval)`` / ``(X_eval, y_eval,
    sample_weight_eval)`` for the weighted mean held-out log-loss there.

    With ``theta`` the optimum and ``H`` the Hessian of the objective, the result is
    ``-(d grad_theta f / d v_i) . H^{-1} grad(of)``: one solve for all rows. Removing row ``i``
    (its weight 1 becoming 0) changes ``of`` by about ``-influence[i]``, to first order; the
    error grows with the row's leverage, and `leave_one_out` gives the exact change.

    >>> import jax, jax.numpy as jnp, jaxsig
    >>> X = jnp.array([[0.0], [1.0], [2.0], [3.0], [1.5]]); y = jnp.array([0.0, 0.0, 1.0, 1.0, 0.0])
    >>> fitted = jaxsig.fit(X, y, solver="newton", l2=0.1, tol=1e-6).params
    >>> jaxsig.influence(fitted, X, y, (X, y), l2=0.1).shape
    (5,)
    """
    l1 = 0.0 if l1 is None else l1
    setup, of, v = _prepared(params, X, y, of, l1, l2, sample_weight, fit_intercept)
    key = jax.random.key(0)

    def of_optimum(v):
        problem = _setup.as_problem(setup, 1.0, l1, l2, key, v=v)
        return of(_model(setup, _implicit.optimum(setup.params, problem)))

    return jax.grad(of_optimum)(v)


def leave_one_out(
    params: Params,
    X: ArrayLike,
    y: ArrayLike,
    of: Callable[[Params], jax.Array] | tuple,
    rows: ArrayLike,
    *,
    l2: ArrayLike = 0.0,
    sample_weight: ArrayLike | None = None,
    fit_intercept: bool = True,
    steps: int = 50,
    batch_size: int = 16,
) -> jax.Array:
    """The exact change in ``of`` when each of ``rows`` is removed from the training data,
    ``of(theta_{-i}) - of(theta)``, (len(rows),): what `influence` approximates to first order
    (``-influence[i]``).

    ``params`` must be the optimum `fit` found with these options. Each refit is Newton's method
    (the ``newton`` solver's steps, Armijo-damped) from ``params`` on the objective with row
    ``i``'s weight set to 0, until no parameter moves by more than 8 ulps (of the largest, or
    of 1) or after ``steps`` steps; starting this close it converges quadratically, in 3 to 6
    steps on the data sets of ``experiments/hypergradients.py``. Differences this small need
    float64 to be resolved well. Rows are refitted
    ``batch_size`` at a time under one `vmap`, in a `lax.map`: a pass costs ``n d^2`` a row, so
    rank rows by `influence` first and refit the few that matter. Smooth objectives only (no
    ``l1``). jit- and vmap-able (``rows`` may be traced); its derivatives (with respect to
    ``X``, ``y``, ``l2``, ``sample_weight``) are the refitted optima's, by implicit
    differentiation.

    >>> import jax.numpy as jnp, jaxsig
    >>> X = jnp.array([[0.0], [1.0], [2.0], [3.0], [1.5]]); y = jnp.array([0.0, 0.0, 1.0, 1.0, 0.0])
    >>> fitted = jaxsig.fit(X, y, solver="newton", l2=0.1, tol=1e-6).params
    >>> jaxsig.leave_one_out(fitted, X, y, (X, y), jnp.array([0, 4]), l2=0.1).shape
    (2,)
    """
    setup, of, v = _prepared(params, X, y, of, 0.0, l2, sample_weight, fit_intercept)
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    rows = jnp.asarray(rows)
    if rows.ndim != 1 or not jnp.issubdtype(rows.dtype, jnp.integer):
        raise ValueError(
            f"rows must be a 1-d array of row indices, got {rows.dtype} of shape {rows.shape}"
        )
    n = setup.X.shape[0]
    with check.concrete_scope(rows) as concrete:
        if concrete and rows.size and (int(rows.min()) < -n or int(rows.max()) >= n):
            raise ValueError(
                f"rows must index the {n} training rows, got {int(rows.min())}..{int(rows.max())}"
            )
    key = jax.random.key(0)
    solver = newton()
    full = _setup.as_problem(setup, 1.0, 0.0, l2, key, v=v)
    base = of(_model(setup, _implicit.optimum(setup.params, full)))

    def settle(problem, theta):
        """Newton steps on one output column until the iterate stops moving."""
        eps = jnp.finfo(theta.w.dtype).eps

        def unsettled(carry):
            _, _, moved, taken = carry
            return moved & (taken < steps)

        def one(carry):
            theta, state, _, taken = carry
            new, state, *_ = solver.step(problem, theta, state)
            change = jnp.maximum(jnp.max(jnp.abs(new.w - theta.w)), jnp.abs(new.b - theta.b))
            size = jnp.maximum(1.0, jnp.maximum(jnp.max(jnp.abs(new.w)), jnp.abs(new.b)))
            return new, state, change > 8 * eps * size, taken + 1

        carry = (theta, solver.init(problem, theta), jnp.array(True), jnp.array(0))
        return jax.lax.while_loop(unsettled, one, carry)[0]

    def refit(row):
        problem = _setup.as_problem(setup, 1.0, 0.0, l2, key, v=v.at[row].set(0))
        loop_problem, start = jax.lax.stop_gradient((problem, setup.params))
        if setup.y.ndim == 1:
            theta = settle(loop_problem, start)
        else:
            columns = loop_problem._replace(y=loop_problem.y.T)
            axes = problem._replace(y=0, **{f: None for f in problem._fields if f != "y"})
            theta = jax.vmap(settle, in_axes=(axes, Params(1, 0)), out_axes=Params(1, 0))(
                columns, start
            )
        return of(_model(setup, _implicit.optimum(theta, problem))) - base

    return jax.lax.map(refit, rows, batch_size=batch_size)
