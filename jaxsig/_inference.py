"""Statistical inference for an unpenalised logistic fit: covariance (model-based, sandwich,
cluster), Wald tests and intervals, likelihood, deviance and the likelihood-ratio test against
the intercept-only model. One fit or, under ``vmap``, thousands."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import special
from jax.typing import ArrayLike

from jaxsig import _primitives as prim
from jaxsig import _validate as check
from jaxsig._derivatives import augmented_gram
from jaxsig._loss import logistic_loss
from jaxsig._model import Params

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")
# Newton steps of the intercept-only model with an offset (quadratic convergence from the
# offset-free solution; a step is clipped to 4 so that no start overshoots).
_NULL_STEPS = 40


class Inference(NamedTuple):
    """Inference for the coefficients ``coef = (w, b)`` (intercept last, when fitted).

    ``cov`` (k, k), ``se``, ``z = coef / se``, ``p_value`` (two-sided, from the normal),
    ``ci_low``/``ci_high`` (the ``1 - alpha`` Wald interval) are (k,). ``log_likelihood``,
    ``deviance`` (against the saturated model), ``null_deviance`` and ``null_log_likelihood``
    (the intercept-only model, with the offset), ``aic = -2 ll + 2k``, ``bic = -2 ll + k
    log(nobs)``, ``pseudo_r2`` (McFadden's ``1 - ll / ll_null``), ``lr_statistic = 2 (ll -
    ll_null)`` with ``lr_p_value`` on ``df_model`` degrees of freedom, ``nobs`` (the sum of
    frequency weights, else the row count) and ``newton_step`` (the largest entry of the
    Newton step ``I^-1 score`` in standard errors: near 0 at a maximum, whatever the
    features' scale) are scalars.
    """

    coef: jax.Array
    cov: jax.Array
    se: jax.Array
    z: jax.Array
    p_value: jax.Array
    ci_low: jax.Array
    ci_high: jax.Array
    log_likelihood: jax.Array
    null_log_likelihood: jax.Array
    deviance: jax.Array
    null_deviance: jax.Array
    aic: jax.Array
    bic: jax.Array
    pseudo_r2: jax.Array
    lr_statistic: jax.Array
    lr_p_value: jax.Array
    df_model: jax.Array
    nobs: jax.Array
    newton_step: jax.Array


def _design(X: jax.Array, fit_intercept: bool) -> jax.Array:
    return jnp.concatenate([X, jnp.ones_like(X[:, :1])], axis=1) if fit_intercept else X


def _inverse(information: jax.Array) -> jax.Array:
    """``I^-1`` by Cholesky; NaN where ``I`` is not numerically positive definite."""
    factor = jax.scipy.linalg.cho_factor(information, lower=True)
    return jax.scipy.linalg.cho_solve(
        factor, jnp.eye(information.shape[0], dtype=information.dtype)
    )


def _entropy(y: jax.Array) -> jax.Array:
    """``-y log y - (1 - y) log(1 - y)``: the saturated model's loss (0 for hard labels)."""
    return -(special.xlogy(y, y) + special.xlogy(1 - y, 1 - y))


def _null_intercept(y, weight, offset) -> jax.Array:
    """The intercept-only model's intercept: ``logit`` of the weighted mean label without an
    offset, Newton steps from there with one."""
    mean = jnp.sum(weight * y) / jnp.sum(weight)
    tiny = jnp.finfo(y.dtype).eps
    b = prim.logit(jnp.clip(mean, tiny, 1 - tiny))
    if offset is None:
        return b

    def step(_, b):
        z = b + offset
        g = jnp.sum(weight * (y - prim.sigmoid(z)))
        h = jnp.sum(weight * prim.sigmoid_derivative(z))
        return b + jnp.clip(g / h, -4.0, 4.0)

    return jax.lax.fori_loop(0, _NULL_STEPS, step, b)


def _chi2_sf(x: jax.Array, df: jax.Array) -> jax.Array:
    """``P(chi2_df > x)``: the regularised upper incomplete gamma function (1 at df = 0)."""
    return jnp.where(df > 0, special.gammaincc(jnp.maximum(df, 1) / 2, jnp.maximum(x, 0) / 2), 1.0)


def _group_codes(groups, n: int) -> tuple[jax.Array, jax.Array]:
    """Integer codes in ``[0, n)`` and the number of clusters. Concrete labels of any kind are
    coded here; traced ones must already be codes in ``[0, n)``."""
    if check.is_concrete(groups):
        labels = np.asarray(groups)
        if labels.shape != (n,):
            raise ValueError(f"groups must have shape ({n},) to match X, got {labels.shape}")
        _, codes = np.unique(labels, return_inverse=True)
        count = int(codes.max()) + 1
        if count < 2:
            raise ValueError("groups holds one cluster only; cluster covariance needs two or more")
        return jnp.asarray(codes.reshape(n)), jnp.asarray(count)
    codes = jnp.asarray(groups)
    if codes.shape != (n,) or not jnp.issubdtype(codes.dtype, jnp.integer):
        raise ValueError(
            f"traced groups must be integer codes in [0, {n}) of shape ({n},), got "
            f"{codes.dtype} {codes.shape}"
        )
    present = jax.ops.segment_sum(jnp.ones(n, jnp.int32), codes, num_segments=n) > 0
    return codes, jnp.sum(present)


def _check(params, X, y, sample_weight, var_weight, offset, cov_type, groups, alpha, l2):
    X = check.as_features(X)
    y = check.as_labels(y, X)
    if y.ndim != 1:
        raise ValueError(
            f"inference takes one output (y of shape (n,)), got y of shape {y.shape}; "
            "jax.vmap over the columns for several"
        )
    check.check_params(params, X, y)
    f = check.as_sample_weight(sample_weight, X)
    a = check.as_sample_weight(var_weight, X, "var_weight")
    o = check.as_offset(offset, X)
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {', '.join(COV_TYPES)}, got {cov_type!r}")
    if (cov_type == "cluster") != (groups is not None):
        raise ValueError('groups is needed with cov_type="cluster", and only there')
    check.check_hyperparameter("alpha", alpha, positive=True, at_most=1.0)
    if check.is_concrete(alpha) and float(alpha) == 1.0:
        raise ValueError("alpha must be below 1 (the interval's level is 1 - alpha)")
    check.check_hyperparameter("l2", l2, shapes=((), (X.shape[1],)))
    if not check.is_concrete(l2):
        raise ValueError("l2 must be a concrete 0 (inference covers unpenalised fits only)")
    if np.any(np.asarray(l2) != 0):
        raise ValueError(
            "inference covers unpenalised fits (l2 = 0): the inverse information at a "
            "penalised optimum is not the covariance of that biased estimate, and its Wald "
            "intervals would not cover at their level; refit with l2=0, or use "
            "jaxsig.bootstrap for the penalised estimate's sampling spread"
        )
    return X, y, f, a, o


def inference(
    params: Params,
    X: ArrayLike,
    y: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    var_weight: ArrayLike | None = None,
    offset: ArrayLike | None = None,
    cov_type: str = "nonrobust",
    groups: ArrayLike | None = None,
    alpha: ArrayLike = 0.05,
    fit_intercept: bool = True,
    l2: ArrayLike = 0.0,
) -> Inference:
    """Standard errors, Wald tests and intervals and fit statistics of the maximum-likelihood
    ``params`` of ``y`` (n,) on ``X`` (n, d).

    With ``p = sigmoid(X w + b + offset)``, frequency weights ``f`` (``sample_weight``: a row
    counted ``f`` times) and variance weights ``a`` (``var_weight``: a row whose label is a
    mean, of variance ``p (1 - p) / a``), the log-likelihood is
    ``sum f a (y log p + (1 - y) log(1 - p))`` and the Fisher information
    ``I = X~^T diag(f a p (1 - p)) X~``, ``X~ = [X, 1]``. ``cov_type``:

    - ``"nonrobust"``: ``I^-1``;
    - ``"HC0"``: the sandwich ``I^-1 (sum_i f_i s_i s_i^T) I^-1``, ``s_i = a_i (y_i - p_i) x~_i``;
    - ``"HC1"``: HC0 times ``nobs / (nobs - k)``; ``"HC2"``, ``"HC3"``: each ``s_i s_i^T``
      divided by ``1 - h_i`` or ``(1 - h_i)**2``, ``h_i = a_i p_i (1 - p_i) x~_i^T I^-1 x~_i``
      (R's ``sandwich::vcovHC`` for a ``glm``; statsmodels' Logit and GLM give HC0 for all
      four);
    - ``"cluster"``: ``sum_g S_g S_g^T`` over the ``groups`` of ``S_g = sum_{i in g} f_i s_i``,
      times ``G / (G - 1) (n - 1) / (n - k)`` (statsmodels and Stata). Concrete ``groups`` may
      be any labels; traced ones must be integer codes in ``[0, n)``.

    ``params`` must be the unpenalised optimum (``l2 = 0``; a non-zero ``l2`` is refused) of
    this data, weights (frequency times variance weights as `fit`'s ``sample_weight``) and
    offset; ``newton_step`` shows how near. Labels may be soft (in [0, 1]): the likelihood is then
    the quasi-likelihood, without binomial coefficients. jit- and vmap-able; p-values come from
    ``erfc`` and stay accurate, not 0, while the true value is a normal number (|z| < 37.5 in
    float64). Under (quasi-)complete separation no maximum exists and the standard errors mean
    nothing: `jaxsig.separation` finds it.
    """
    X, y, f, a, o = _check(
        params, X, y, sample_weight, var_weight, offset, cov_type, groups, alpha, l2
    )
    n, d = X.shape
    work = jnp.promote_types(X.dtype, jnp.float32)
    X, y = X.astype(work), y.astype(work)
    w, b = (jnp.asarray(t, work) for t in params)
    one = jnp.ones(n, work)
    f = one if f is None else f.astype(work)
    a = one if a is None else a.astype(work)
    fa = f * a
    z = X @ w + (b if fit_intercept else 0) + (0 if o is None else o)
    k = d + int(bool(fit_intercept))
    coef = jnp.append(w, b) if fit_intercept else w

    c = fa * prim.sigmoid_derivative(z)
    information = augmented_gram(X, c, 0.0)
    if not fit_intercept:
        information = information[:d, :d]
    bread = _inverse(information)
    design = _design(X, fit_intercept)
    r = a * (y - prim.sigmoid(z))  # the score of row i is f_i r_i x~_i
    nobs = jnp.sum(f) if sample_weight is not None else jnp.asarray(n, work)

    if cov_type == "nonrobust":
        cov = bread
    elif cov_type == "cluster":
        codes, count = _group_codes(groups, n)
        sums = jax.ops.segment_sum(design * (f * r)[:, None], codes, num_segments=n)
        correction = count / (count - 1) * (n - 1) / (n - k)
        cov = correction * (bread @ (sums.T @ sums) @ bread)
    else:
        squared = f * r**2
        if cov_type in ("HC2", "HC3"):
            leverage = (
                a * prim.sigmoid_derivative(z) * jnp.einsum("ij,jk,ik->i", design, bread, design)
            )
            squared = squared / (1 - leverage) ** (2 if cov_type == "HC3" else 1)
        meat = (design * squared[:, None]).T @ design
        cov = bread @ meat @ bread
        if cov_type == "HC1":
            cov = cov * nobs / (nobs - k)
    cov = (cov + cov.T) / 2

    se = jnp.sqrt(jnp.diagonal(cov))
    z_score = coef / se
    p_value = 2 * special.ndtr(-jnp.abs(z_score))
    critical = special.ndtri(1 - jnp.asarray(alpha, work) / 2)
    loss = logistic_loss(z, y)
    log_likelihood = -jnp.sum(fa * loss)
    saturated = jnp.sum(fa * _entropy(y))
    b0 = _null_intercept(y, fa, o)
    z0 = b0 + (0 if o is None else o)
    null_log_likelihood = -jnp.sum(fa * logistic_loss(jnp.broadcast_to(z0, (n,)), y))
    lr = 2 * (log_likelihood - null_log_likelihood)
    df_model = jnp.asarray(d, work)
    score = design.T @ (f * r)
    return Inference(
        coef=coef,
        cov=cov,
        se=se,
        z=z_score,
        p_value=p_value,
        ci_low=coef - critical * se,
        ci_high=coef + critical * se,
        log_likelihood=log_likelihood,
        null_log_likelihood=null_log_likelihood,
        deviance=2 * (-log_likelihood - saturated),
        null_deviance=2 * (-null_log_likelihood - saturated),
        aic=-2 * log_likelihood + 2 * k,
        bic=-2 * log_likelihood + k * jnp.log(nobs),
        pseudo_r2=1 - log_likelihood / null_log_likelihood,
        lr_statistic=lr,
        lr_p_value=_chi2_sf(lr, df_model),
        df_model=df_model,
        nobs=nobs,
        newton_step=jnp.max(jnp.abs(bread @ score) / jnp.sqrt(jnp.diagonal(bread))),
    )
