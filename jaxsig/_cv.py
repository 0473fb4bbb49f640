"""Cross-validation: folds x hyperparameters in one sweep, the best point, a refit on all rows."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxsig import _fit, _folds, _setup, _sweep
from jaxsig import _validate as check

HIGHER_IS_BETTER = {"log_loss": False, "accuracy": True}
# sweep options that fit does not take, or takes as the best point's single value
SWEEP_ONLY = ("l2", "l1", "learning_rate", "seed", "threshold", "grid", "mesh", "mesh_axis")


class CrossValidation(NamedTuple):
    """The outcome of `cross_validate`, one row per hyperparameter point (Q points, k folds).

    Attributes:
      points: ``{name: (Q,)}`` hyperparameters, as in `SweepResult` without ``fold``.
      mean, std: ``{metric: (Q,)}`` over the folds' held-out rows (std with ``ddof=0``).
      best_index: the point with the best mean ``scoring`` (the first one on ties; a point
        that diverged in some fold, or whose score is NaN, is the worst).
      best: that point's hyperparameters, as Python floats and ints.
      refit: `fit` on every row at the best point (None with ``refit=False``).
      sweep: the underlying `SweepResult`, Q * k rows, folds fastest.
      diverged: (Q,) bool, the points whose fit stopped on a non-finite objective or step in
        some fold (their metrics are those of the last finite parameters; `sweep` warned).
    """

    points: dict[str, np.ndarray]
    mean: dict[str, jax.Array]
    std: dict[str, jax.Array]
    best_index: int
    best: dict[str, float | int]
    refit: _fit.FitResult | None
    sweep: _sweep.SweepResult
    diverged: np.ndarray


def best_point(score: np.ndarray, scoring: str, diverged: np.ndarray | None = None) -> int:
    """The index of the best score, the first on ties; NaN or a diverged point is the worst."""
    loss = -score if HIGHER_IS_BETTER[scoring] else score
    worst = np.isnan(loss) if diverged is None else np.isnan(loss) | diverged
    return int(np.argmin(np.where(worst, np.inf, loss)))


def cross_validate(
    X: ArrayLike,
    y: ArrayLike,
    *,
    key: jax.Array | int | None = None,
    n_folds: int = 5,
    stratified: bool = True,
    scoring: Literal["log_loss", "accuracy"] = "log_loss",
    refit: bool = True,
    **sweep_options,
) -> CrossValidation:
    """k-fold cross-validation of every hyperparameter point in one compiled sweep.

    Folds come from ``key`` (as `fit` takes it: a typed or legacy key, an int seed, or None for
    seed 0; `stratified_kfold` by default, else `kfold`); ``sweep_options`` are
    `sweep`'s (``solver``, ``l2``, ``learning_rate``, ``grid``, ``mesh``, ...). The best point
    minimises the mean held-out log-loss (or maximises accuracy) and is refitted on all rows.

    >>> import jax, numpy as np, jaxsig
    >>> X = np.linspace(-2, 2, 40)[:, None]; y = (X[:, 0] + np.sin(7 * X[:, 0]) > 0) * 1.0
    >>> cv = jaxsig.cross_validate(X, y, key=jax.random.key(0), n_folds=4, solver="newton",
    ...                            l2=[1e-3, 1e-1, 10.0], tol=1e-6, epochs=50)
    >>> cv.mean["log_loss"].shape, cv.best["l2"] in (1e-3, 1e-1, 10.0)
    ((3,), True)
    """
    if scoring not in HIGHER_IS_BETTER:
        raise ValueError(f"scoring must be one of {sorted(HIGHER_IS_BETTER)}, got {scoring!r}")
    if "folds" in sweep_options:
        raise ValueError("cross_validate makes its folds from key and n_folds; use sweep(folds=)")
    if not check.is_concrete(y):
        raise ValueError(
            "cross_validate makes its folds and picks its best point on the host: y must be "
            "concrete (inside jit or vmap use sweep with folds)"
        )
    with jax.ensure_compile_time_eval():
        labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"cross_validate needs one label column, got shape {labels.shape}")
    key = _setup.as_key(key)
    if stratified:
        folds = _folds.stratified_kfold(key, labels, n_folds)
    else:
        folds = _folds.kfold(key, labels.shape[0], n_folds)
    result = _sweep.sweep(X, y, folds=folds, **sweep_options)
    if not check.is_concrete(result.metrics):
        raise ValueError(
            "cross_validate picks its best point and refits on the host, so its inputs must be "
            "concrete (inside jit or vmap, sweep(..., folds=jaxsig.kfold(...)) gives the "
            "per-fold metrics)"
        )
    # Summarised in float64: a diverged point's huge loss would overflow float32 when squared.
    by_fold = {k: np.asarray(v, np.float64).reshape(-1, n_folds) for k, v in result.metrics.items()}
    dtypes = {k: v.dtype for k, v in result.metrics.items()}
    mean = {k: v.mean(axis=1) for k, v in by_fold.items()}
    std = {k: v.std(axis=1) for k, v in by_fold.items()}
    stopped = np.isnan(np.asarray(result.gradient_norm, np.float64))
    diverged = stopped.reshape(stopped.shape[0] // n_folds, -1).any(axis=1)
    best_index = best_point(mean[scoring], scoring, diverged)
    points = {k: v[::n_folds] for k, v in result.points.items() if k != "fold"}
    best = {k: v[best_index].item() for k, v in points.items()}
    refitted = None
    if refit:
        # fit takes one value of each swept hyperparameter; l1 and learning_rate only when given.
        best_values = {"l2": best["l2"], "key": best["seed"]}
        for name in ("l1", "learning_rate"):
            if sweep_options.get(name) is not None:
                best_values[name] = best[name]
        options = {k: v for k, v in sweep_options.items() if k not in SWEEP_ONLY}
        refitted = _fit.fit(X, y, **options, **best_values)
    return CrossValidation(
        points,
        {k: jnp.asarray(v, dtypes[k]) for k, v in mean.items()},
        {k: jnp.asarray(v, dtypes[k]) for k, v in std.items()},
        best_index,
        best,
        refitted,
        result,
        diverged,
    )
