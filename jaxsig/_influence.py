"""The influence of each training row: the derivative of a quantity of the fitted model with
respect to the row's weight, by the implicit function theorem (one linear solve, no refit)."""

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
    (its weight 1 becoming 0) changes ``of`` by about ``-influence[i]``: to first order, as
    leave-one-out refits measure (the error grows with the row's leverage).

    >>> import jax, jax.numpy as jnp, jaxsig
    >>> X = jnp.array([[0.0], [1.0], [2.0], [3.0], [1.5]]); y = jnp.array([0.0, 0.0, 1.0, 1.0, 0.0])
    >>> fitted = jaxsig.fit(X, y, solver="newton", l2=0.1, tol=1e-6).params
    >>> jaxsig.influence(fitted, X, y, (X, y), l2=0.1).shape
    (5,)
    """
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
    l1 = 0.0 if l1 is None else l1
    _setup.check_penalty("l1", l1, d)
    work = setup.X.dtype
    v = jnp.ones(setup.X.shape[0], work) if setup.v is None else setup.v.astype(work)
    key = jax.random.key(0)

    def of_optimum(v):
        problem = _setup.as_problem(setup, 1.0, l1, l2, key, v=v)
        theta = _implicit.optimum(setup.params, problem)
        return of(Params(theta.w, theta.b * setup.intercept))

    return jax.grad(of_optimum)(v)
