"""A statsmodels-like text table of an unpenalised fit: coefficients, standard errors, Wald
tests and intervals, and the fit statistics."""

from __future__ import annotations

import warnings

import numpy as np
from jax.typing import ArrayLike

from jaxsig import _validate as check
from jaxsig._inference import Inference, inference
from jaxsig._model import Params
from jaxsig._separation import PerfectSeparationWarning, Separation, describe, separation

_WIDTH = 78


def coefficient_names(n_features: int, feature_names=None, fit_intercept: bool = True) -> list:
    names = [f"x{j}" for j in range(n_features)] if feature_names is None else list(feature_names)
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} names for {n_features} features")
    return [str(n) for n in names] + (["intercept"] if fit_intercept else [])


def checked_separation(X, y, sample_weight, fit_intercept: bool, names) -> Separation:
    """`separation`, warning with the coefficients' names when there is one."""
    found = separation(X, y, sample_weight=sample_weight, fit_intercept=fit_intercept)
    if found.separated:
        warning = PerfectSeparationWarning(describe(found, names))
        warning.columns = found.columns
        warnings.warn(warning, stacklevel=3)
    return found


def _number(value: float) -> str:
    if not np.isfinite(value):
        return "-"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.3e}"
    return f"{value:.4f}"


def _p(value: float) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{value:.3f}" if value >= 1e-3 else f"{value:.1e}"


def format_summary(
    result: Inference,
    names: list,
    *,
    cov_type: str,
    alpha: float,
    found: Separation | None = None,
) -> str:
    """The table of an `Inference` (host values), coefficients named by ``names``."""
    r = {k: np.asarray(v, np.float64) for k, v in result._asdict().items()}
    unidentified = set(found.columns) if found is not None and found.separated else set()
    stats = [
        ("Observations:", f"{r['nobs']:.0f}", "Log-likelihood:", _number(r["log_likelihood"])),
        ("Model df:", f"{r['df_model']:.0f}", "Null log-lik.:", _number(r["null_log_likelihood"])),
        ("Covariance:", cov_type, f"LR chi2({r['df_model']:.0f}):", _number(r["lr_statistic"])),
        ("Pseudo R-sq.:", f"{r['pseudo_r2']:.4f}", "LR p-value:", _p(r["lr_p_value"])),
        ("AIC:", _number(r["aic"]), "BIC:", _number(r["bic"])),
        ("Deviance:", _number(r["deviance"]), "Null deviance:", _number(r["null_deviance"])),
    ]
    lines = ["Logistic regression (maximum likelihood)".center(_WIDTH), "=" * _WIDTH]
    lines += [f"{a:<16}{b:>20}  {c:<20}{d:>20}" for a, b, c, d in stats]
    low, high = f"[{alpha / 2:.3g}", f"{1 - alpha / 2:.3g}]"
    width = max(12, *(len(n) + 1 for n in names))
    lines += [
        "=" * _WIDTH,
        f"{'':<{width}}{'coef':>11}{'std err':>11}{'z':>9}{'P>|z|':>9}{low:>12}{high:>12}",
        "-" * _WIDTH,
    ]
    for j, name in enumerate(names):
        if j in unidentified:
            cells = [_number(r["coef"][j]), "-", "-", "-", "-", "-"]
            name = name + " *"
        else:
            cells = [
                _number(r["coef"][j]),
                _number(r["se"][j]),
                f"{r['z'][j]:.3f}",
                _p(r["p_value"][j]),
                _number(r["ci_low"][j]),
                _number(r["ci_high"][j]),
            ]
        widths = (11, 11, 9, 9, 12, 12)
        lines.append(
            f"{name:<{width}}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
        )
    lines.append("=" * _WIDTH)
    if unidentified:
        lines.append("* " + describe(found, names))
    if r["newton_step"] > 1e-2:
        lines.append(
            f"Note: a Newton step from these parameters moves a coefficient by "
            f"{r['newton_step']:.2g} standard errors: they are not "
            "the maximum-likelihood estimate (fit with l2=0 and a tolerance)."
        )
    return "\n".join(lines)


def summary(
    params: Params,
    X: ArrayLike,
    y: ArrayLike,
    *,
    feature_names=None,
    sample_weight: ArrayLike | None = None,
    var_weight: ArrayLike | None = None,
    offset: ArrayLike | None = None,
    cov_type: str = "nonrobust",
    groups: ArrayLike | None = None,
    alpha: float = 0.05,
    fit_intercept: bool = True,
) -> str:
    """A text table like statsmodels' ``summary()``: coef, std err, z, P>|z| and the
    ``1 - alpha`` interval per coefficient (named by ``feature_names``, then "intercept"), with
    the fit statistics of `inference` (same arguments). Separated data are checked
    (`jaxsig.separation`): coefficients without a finite estimate are marked and their
    statistics left out, with a `PerfectSeparationWarning`."""
    if not check.is_concrete(X, y, params.w, params.b):
        raise ValueError("summary needs concrete arrays: call it outside jit")
    result = inference(
        params,
        X,
        y,
        sample_weight=sample_weight,
        var_weight=var_weight,
        offset=offset,
        cov_type=cov_type,
        groups=groups,
        alpha=alpha,
        fit_intercept=fit_intercept,
    )
    names = coefficient_names(np.shape(X)[1], feature_names, fit_intercept)
    found = checked_separation(X, y, sample_weight, fit_intercept, names)
    return format_summary(result, names, cov_type=cov_type, alpha=float(alpha), found=found)
