"""Tuning the L2 penalty by gradient: the cross-validated held-out log-loss as a function of
``log(l2)``, minimised by optax steps on its hypergradient.

Every fold's fit is one `fit` under ``vmap``; ``jax.grad`` of the mean held-out loss goes
through each fold's optimum by implicit differentiation (`jaxsig._solvers._implicit`), and the
whole search is one compiled ``lax.scan`` over steps, each fit warm-started at its previous
optimum.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from jaxsig import _fit, _folds, _setup
from jaxsig import _validate as check
from jaxsig._loss import logistic_loss
from jaxsig._model import Params, logits


class TuneResult(NamedTuple):
    """The outcome of `tune_l2`.

    Attributes:
      l2: the strength with the lowest mean held-out log-loss found, () or (d,) per feature.
      loss: that mean held-out log-loss.
      l2_history: the strengths tried, (steps + 1,) or (steps + 1, d); the last is where the
        final step landed.
      loss_history: the mean held-out log-loss at each, (steps + 1,).
      fits: the fold fits run, ``n_folds * (steps + 1)``.
      refit: `fit` on every row at ``l2`` (None with ``refit=False``).
    """

    l2: jax.Array
    loss: jax.Array
    l2_history: jax.Array
    loss_history: jax.Array
    fits: int
    refit: _fit.FitResult | None


@functools.partial(
    jax.jit, static_argnames=("solver", "epochs", "fit_intercept", "optimizer", "steps")
)
def _search(
    X,
    y,
    train,
    held,
    start,
    tol,
    learning_rate,
    bounds,
    *,
    solver: str,
    epochs: int,
    fit_intercept: bool,
    optimizer: Callable[..., optax.GradientTransformation],
    steps: int,
):
    """The scan over gradient steps; returns the log-strengths tried and their losses."""
    low, high = jnp.log(bounds)
    tx = optimizer(learning_rate)

    def cross_validated(log_l2, starts):
        def one(train_weight, held_weight, params):
            fitted = _fit.fit(
                X,
                y,
                solver=solver,
                epochs=epochs,
                tol=tol,
                fit_intercept=fit_intercept,
                l2=jnp.exp(log_l2),
                sample_weight=train_weight,
                params=params,
            )
            losses = logistic_loss(logits(fitted.params, X), y)
            return jnp.sum(held_weight * losses) / jnp.sum(held_weight), fitted.params

        losses, params = jax.vmap(one)(train, held, starts)
        return jnp.mean(losses), params

    def step(carry, _):
        log_l2, state, starts = carry
        (loss, params), grad = jax.value_and_grad(cross_validated, has_aux=True)(log_l2, starts)
        updates, state = tx.update(grad, state, log_l2)
        moved = jnp.clip(optax.apply_updates(log_l2, updates), low, high)
        return (moved, state, params), (log_l2, loss)

    k, d = held.shape[0], X.shape[1]
    starts = Params(jnp.zeros((k, d), X.dtype), jnp.zeros((k,), X.dtype))
    (last, _, starts), (tried, losses) = jax.lax.scan(
        step, (start, tx.init(start), starts), length=steps
    )
    final, _ = cross_validated(last, starts)
    return (
        jnp.concatenate([tried, last[None]]),
        jnp.concatenate([losses, final[None]]),
    )


def tune_l2(
    X: ArrayLike,
    y: ArrayLike,
    *,
    key: jax.Array | int,
    n_folds: int = 5,
    l2: ArrayLike = 1e-2,
    per_feature: bool = False,
    steps: int = 20,
    learning_rate: float = 0.3,
    optimizer: Callable[..., optax.GradientTransformation] = optax.adam,
    bounds: tuple[float, float] = (1e-8, 1e4),
    solver: _setup.SolverName = "newton",
    epochs: int = 100,
    tol: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
    fit_intercept: bool = True,
    stratified: bool = True,
    refit: bool = True,
) -> TuneResult:
    """Minimises the k-fold cross-validated log-loss over ``log(l2)`` by gradient steps.

    The folds come from ``key`` as in `cross_validate`. Starting at ``l2`` (one strength, or
    with ``per_feature`` one per feature, starting from ``l2``), each of the ``steps`` steps
    fits every fold (one vmapped `fit`, warm-started), differentiates the mean held-out loss
    with respect to ``log(l2)`` through the optima (implicit differentiation) and moves by
    ``optimizer(learning_rate)`` (optax.adam by default), kept within ``bounds``. All steps
    are one compiled call. ``tol`` defaults to 1e-5 for float32 and 1e-9 for float64 data: the
    hypergradient is as accurate as the fits.

    >>> import jax, numpy as np, jaxsig
    >>> X = np.linspace(-2, 2, 60)[:, None]; y = (X[:, 0] + np.sin(5 * X[:, 0]) > 0) * 1.0
    >>> tuned = jaxsig.tune_l2(X, y, key=jax.random.key(0), n_folds=3, steps=5)
    >>> tuned.fits, tuned.loss_history.shape
    (18, (6,))
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    low, high = bounds
    if not 0 < low <= high < np.inf:
        raise ValueError(f"bounds must satisfy 0 < low <= high < inf, got {bounds}")
    check.check_hyperparameter("learning_rate", learning_rate, positive=True)
    setup = _setup.prepare(X, y, sample_weight, None, fit_intercept, None)
    if setup.y.ndim != 1:
        raise ValueError(f"tune_l2 needs one label column, got y of shape {setup.y.shape}")
    if not check.is_concrete(setup.y):
        raise ValueError(
            "tune_l2 makes its folds and picks its best step on the host: pass "
            "concrete data (not inside jit or vmap)"
        )
    d, work = setup.X.shape[1], setup.X.dtype
    _setup.check_penalty("l2", l2, d)
    start = jnp.broadcast_to(jnp.asarray(l2, work), (d,) if per_feature else jnp.shape(l2))
    if not bool(jnp.all((start >= low) & (start <= high))):
        raise ValueError(f"l2 must lie within bounds {bounds}, got {l2}")
    key = _setup.as_key(key)
    labels = np.asarray(setup.y)
    if stratified:
        folds = _folds.stratified_kfold(key, labels, n_folds)
    else:
        folds = _folds.kfold(key, labels.shape[0], n_folds)
    held = (np.asarray(folds)[None, :] == np.arange(n_folds)[:, None]).astype(work)
    v = np.ones(labels.shape[0], work) if setup.v is None else np.asarray(setup.v, work)
    if tol is None:
        tol = 1e-9 if work == jnp.float64 else 1e-5
    check.check_hyperparameter("tol", tol)
    tried, losses = _search(
        setup.X,
        setup.y,
        v * (1 - held),
        v * held,
        jnp.log(start),
        jnp.asarray(tol, work),
        jnp.asarray(learning_rate, work),
        jnp.asarray(bounds, work),
        solver=solver,
        epochs=epochs,
        fit_intercept=fit_intercept,
        optimizer=optimizer,
        steps=steps,
    )
    losses_host = np.asarray(losses, np.float64)
    best = int(np.argmin(np.where(np.isfinite(losses_host), losses_host, np.inf)))
    l2_best = jnp.exp(tried[best])
    refitted = None
    if refit:
        refitted = _fit.fit(
            X,
            y,
            solver=solver,
            epochs=epochs,
            tol=tol,
            fit_intercept=fit_intercept,
            l2=l2_best,
            sample_weight=sample_weight,
        )
    return TuneResult(
        l2_best, losses[best], jnp.exp(tried), losses, n_folds * (steps + 1), refitted
    )
