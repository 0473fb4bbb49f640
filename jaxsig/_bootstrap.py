"""The nonparametric bootstrap of a fit: B resamples as row weights, all fitted in one vmapped,
compiled call; percentile and BCa intervals."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy import special
from jax.typing import ArrayLike

from jaxsig import _primitives as prim
from jaxsig import _setup
from jaxsig import _validate as check
from jaxsig._derivatives import augmented_gram
from jaxsig._fit import fit


class BootstrapResult(NamedTuple):
    """Coefficients ``(w, b)`` (intercept last when fitted) throughout.

    ``estimate`` (k,): the fit on the data as given; ``replicates`` (B, k): the fit on each
    resample; ``se``: their standard deviation; ``percentile_low``/``percentile_high``: their
    ``alpha/2`` and ``1 - alpha/2`` quantiles; ``bca_low``/``bca_high``: Efron's bias-corrected
    and accelerated interval, with ``bias`` (``z0``) and ``acceleration`` (k,);
    ``converged`` (B,): whether each resample's fit met its tolerance.
    """

    estimate: jax.Array
    replicates: jax.Array
    se: jax.Array
    percentile_low: jax.Array
    percentile_high: jax.Array
    bca_low: jax.Array
    bca_high: jax.Array
    bias: jax.Array
    acceleration: jax.Array
    converged: jax.Array


def _coefficients(params, fit_intercept: bool) -> jax.Array:
    return jnp.concatenate([params.w, params.b[..., None]], -1) if fit_intercept else params.w


def _acceleration(theta, X, y, f, l2, fit_intercept: bool) -> jax.Array:
    """Efron's ``a = sum U^3 / (6 (sum U^2)^(3/2))`` from the empirical influence values
    ``U_i = H^-1 s_i`` (the infinitesimal jackknife; ``s_i`` row i's score, ``H`` the Hessian of
    the summed, penalised loss), weighted by the frequency weights ``f``."""
    n, d = X.shape
    w = theta[:d]
    b = theta[d] if fit_intercept else 0.0
    z = X @ w + b
    design = jnp.concatenate([X, jnp.ones((n, 1), X.dtype)], 1) if fit_intercept else X
    hessian = augmented_gram(X, f * prim.sigmoid_derivative(z), jnp.sum(f) * l2)
    if not fit_intercept:
        hessian = hessian[:d, :d]
    # -d(gradient)/d(f_i): the row's score less its share of the penalty (penalty ~ sum f).
    penalty = jnp.broadcast_to(l2, (d,)) * w
    if fit_intercept:
        penalty = jnp.append(penalty, 0.0)
    scores = design * (y - prim.sigmoid(z))[:, None] - penalty
    u = jnp.linalg.solve(hessian, scores.T).T  # (n, k)
    return jnp.sum(f[:, None] * u**3, 0) / (6 * jnp.sum(f[:, None] * u**2, 0) ** 1.5)


def _bca(replicates, estimate, acceleration, alpha):
    """Efron's BCa limits: the quantiles at ``Phi(z0 + (z0 + z_q) / (1 - a (z0 + z_q)))``."""
    B = replicates.shape[0]
    below = jnp.mean(replicates < estimate, 0) + 0.5 * jnp.mean(replicates == estimate, 0)
    bias = special.ndtri(jnp.clip(below, 0.5 / B, 1 - 0.5 / B))

    def limit(q):
        zq = special.ndtri(q)
        level = special.ndtr(bias + (bias + zq) / (1 - acceleration * (bias + zq)))
        return jax.vmap(jnp.quantile, in_axes=(1, 0))(replicates, level)

    return limit(alpha / 2), limit(1 - alpha / 2), bias


def bootstrap(
    X: ArrayLike,
    y: ArrayLike,
    *,
    key: jax.Array,
    n_resamples: int = 1000,
    alpha: float = 0.05,
    l2: ArrayLike = 0.0,
    sample_weight: ArrayLike | None = None,
    fit_intercept: bool = True,
    solver: str = "newton",
    epochs: int = 100,
    tol: float | None = None,
) -> BootstrapResult:
    """Refits ``X`` (n, d), ``y`` (n,) on ``n_resamples`` resamples of the rows, drawn from
    ``key``, and gives percentile and BCa intervals of every coefficient.

    A resample is a vector of multinomial counts (n draws with replacement), times the
    ``sample_weight`` if given, so every resample is one weighted `fit` of the same arrays and
    all of them run in one vmapped, compiled call (``solver``, ``epochs``, ``tol`` as in `fit`;
    ``tol`` defaults to 1e-10 in float64 and 1e-5 in float32). ``l2 > 0`` bootstraps the
    penalised estimate, whose Wald intervals `inference` refuses. The BCa acceleration comes
    from the empirical influence values (the infinitesimal jackknife), not n refits. Every
    replicate counts, converged or not (``converged`` says which did). One compiled program
    per data shape, ``n_resamples`` and option set.
    """
    setup = _setup.prepare(X, y, sample_weight, None, fit_intercept, None)
    if setup.y.ndim != 1:
        raise ValueError(f"bootstrap takes one output (y of shape (n,)), got {setup.y.shape}")
    if not isinstance(n_resamples, int) or isinstance(n_resamples, bool) or n_resamples < 2:
        raise ValueError(f"n_resamples must be an int >= 2, got {n_resamples!r}")
    check.check_hyperparameter("alpha", alpha, positive=True, at_most=1.0)
    if check.is_concrete(alpha) and float(alpha) >= 1:
        raise ValueError("alpha must be below 1 (the interval's level is 1 - alpha)")
    _setup.check_penalty("l2", l2, setup.X.shape[1])
    key = _setup.as_key(key)
    work = setup.X.dtype
    tol = (1e-10 if work == jnp.float64 else 1e-5) if tol is None else tol
    check.check_hyperparameter("tol", tol)
    base = jnp.ones(setup.X.shape[0], work) if setup.v is None else setup.v.astype(work)
    return _resampled(
        setup.X,
        setup.y,
        base,
        key,
        jnp.asarray(l2, work),
        jnp.asarray(alpha, work),
        jnp.asarray(tol, work),
        n_resamples=n_resamples,
        fit_intercept=fit_intercept,
        solver=solver,
        epochs=epochs,
    )


@functools.partial(jax.jit, static_argnames=("n_resamples", "fit_intercept", "solver", "epochs"))
def _resampled(X, y, base, key, l2, alpha, tol, *, n_resamples, fit_intercept, solver, epochs):
    """Every resample's fit and the intervals, as one compiled program."""
    n = X.shape[0]
    counts = jax.vmap(lambda k: jnp.zeros(n, X.dtype).at[jax.random.randint(k, (n,), 0, n)].add(1))(
        jax.random.split(key, n_resamples)
    )

    def one(v):
        result = fit(
            X,
            y,
            solver=solver,
            epochs=epochs,
            tol=tol,
            l2=l2,
            sample_weight=v,
            fit_intercept=fit_intercept,
        )
        return _coefficients(result.params, fit_intercept), result.converged

    estimate, _ = one(base)
    replicates, converged = jax.vmap(one)(counts * base)
    acceleration = _acceleration(estimate, X, y, base, l2, fit_intercept)
    low, high = (jnp.quantile(replicates, q, axis=0) for q in (alpha / 2, 1 - alpha / 2))
    bca_low, bca_high, bias = _bca(replicates, estimate, acceleration, alpha)
    return BootstrapResult(
        estimate=estimate,
        replicates=replicates,
        se=jnp.std(replicates, axis=0, ddof=1),
        percentile_low=low,
        percentile_high=high,
        bca_low=bca_low,
        bca_high=bca_high,
        bias=bias,
        acceleration=acceleration,
        converged=converged,
    )
