"""jaxsig.inference against statsmodels (Logit, GLM Binomial, WLS), against Stata's published
values, frequency weights against repeated rows, coverage, derivatives and transformations."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from support import X64

import jaxsig

sm = pytest.importorskip("statsmodels.api")

# float64: the fits stop at a gradient of 1e-13; statsmodels' IRLS stops near 1e-14, so both
# optima agree to ~1e-12 and the statistics to ~1e-9. float32: the optimum is resolved to
# about sqrt(eps) of the coefficients, and the inverse information loses cond(I) more.
RTOL = 1e-6 if X64 else 2e-3
TOL = 1e-13 if X64 else 1e-6


def _data(n=300, seed=0, offset=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    o = rng.normal(size=n) if offset else np.zeros(n)
    z = X @ [1.0, -1.0, 0.5] + 0.3 + o
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(float)
    return X, y, o, rng


def _fit(X, y, **kw):
    return jaxsig.fit(X, y, solver="newton", tol=TOL, epochs=100, **kw).params


def _sm_order(v):
    """statsmodels' order (constant first) to jaxsig's (intercept last)."""
    v = np.asarray(v)
    if v.ndim == 2:
        return np.roll(np.roll(v, -1, 0), -1, 1)
    return np.roll(v, -1)


def _close(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol, atol=0)


def _close_p(actual, expected, rtol):
    """p-values: relative where the expected value is a normal number of the result's dtype;
    below that, 0 is right (XLA:CPU flushes subnormals)."""
    tiny = float(np.finfo(np.asarray(actual).dtype).tiny)
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol, atol=tiny)


WEIGHTS = ["none", "freq", "var"]


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_matches_statsmodels_glm(weights, cov_type):
    X, y, _, rng = _data()
    f, a, groups = rng.integers(1, 4, len(y)).astype(float), rng.uniform(0.5, 2, len(y)), None
    ours = {"freq": {"sample_weight": f}, "var": {"var_weight": a}}.get(weights, {})
    theirs = {"freq": {"freq_weights": f}, "var": {"var_weights": a}}.get(weights, {})
    fit_weight = {"freq": f, "var": a}.get(weights)
    sm_kw = {}
    if cov_type == "cluster":
        groups = rng.integers(0, 25, len(y))
        sm_kw = {"cov_kwds": {"groups": groups}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), **theirs).fit(
            cov_type=cov_type, tol=1e-15, **sm_kw
        )
    params = _fit(X, y, sample_weight=fit_weight)
    inf = jaxsig.inference(params, X, y, cov_type=cov_type, groups=groups, **ours)
    _close(inf.coef, _sm_order(res.params))
    _close(inf.cov, _sm_order(res.cov_params()), rtol=5 * RTOL)
    _close(inf.se, _sm_order(res.bse))
    _close(inf.z, _sm_order(res.tvalues))
    _close_p(inf.p_value, _sm_order(res.pvalues), rtol=20 * RTOL)
    _close(inf.ci_low, _sm_order(res.conf_int()[:, 0]))
    _close(inf.ci_high, _sm_order(res.conf_int()[:, 1]))
    _close(inf.log_likelihood, res.llf)
    _close(inf.null_log_likelihood, res.llnull)
    _close(inf.deviance, res.deviance)
    _close(inf.null_deviance, res.null_deviance)
    _close(inf.aic, res.aic)
    _close(inf.bic, res.bic_llf)
    _close(inf.pseudo_r2, res.pseudo_rsquared("mcf"))
    _close(inf.nobs, getattr(res.model, "wnobs", len(y)))
    _close(inf.lr_statistic, 2 * (res.llf - res.llnull))
    _close_p(inf.lr_p_value, scipy.stats.chi2.sf(2 * (res.llf - res.llnull), 3), rtol=20 * RTOL)


def test_matches_statsmodels_logit_and_offset():
    X, y, _, _ = _data()
    res = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-15)
    inf = jaxsig.inference(_fit(X, y), X, y)
    _close(inf.se, _sm_order(res.bse))
    _close_p(inf.lr_p_value, res.llr_pvalue, rtol=20 * RTOL)
    _close(inf.bic, res.bic)
    _close(inf.pseudo_r2, res.prsquared)
    X, y, o, _ = _data(offset=True)
    res = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), offset=o).fit(tol=1e-15)
    theta = _sm_order(res.params)
    params = jaxsig.Params(jnp.asarray(theta[:3]), jnp.asarray(theta[3]))
    inf = jaxsig.inference(params, X, y, offset=o)
    _close(inf.se, _sm_order(res.bse))
    _close(inf.null_log_likelihood, res.llnull)
    _close(inf.null_deviance, res.null_deviance)
    assert float(inf.newton_step) < (1e-6 if X64 else 1e-2)


@pytest.mark.parametrize("cov_type", ["HC1", "HC2", "HC3"])
def test_hc_corrections_match_weighted_least_squares_at_the_optimum(cov_type):
    """At the optimum a logistic fit is weighted least squares of the working response
    z + (y - p) / (p (1 - p)) with weights p (1 - p); statsmodels' WLS HC1-HC3 there are R's
    sandwich::vcovHC(glm) (statsmodels' Logit and GLM return HC0 for every HC type)."""
    X, y, _, _ = _data()
    params = _fit(X, y)
    theta = np.r_[np.asarray(params.w, np.float64), float(params.b)]
    design = np.c_[X, np.ones(len(y))]
    z = design @ theta
    p = 1 / (1 + np.exp(-z))
    weight = p * (1 - p)
    res = sm.WLS(z + (y - p) / weight, design, weights=weight).fit(cov_type=cov_type)
    _close(jaxsig.inference(params, X, y, cov_type=cov_type).se, res.bse)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3"])
def test_frequency_weights_equal_repeated_rows(cov_type):
    X, y, _, rng = _data(n=120)
    f = rng.integers(1, 4, len(y))
    rows = np.repeat(np.arange(len(y)), f)
    params = _fit(X, y, sample_weight=f.astype(float))
    weighted = jaxsig.inference(params, X, y, sample_weight=f, cov_type=cov_type)
    repeated = jaxsig.inference(params, X[rows], y[rows], cov_type=cov_type)
    for field in ("se", "log_likelihood", "aic", "bic", "null_deviance", "nobs"):
        _close(
            getattr(weighted, field),
            np.asarray(getattr(repeated, field)),
            rtol=1e-5 if X64 else 1e-4,
        )


@pytest.mark.skipif(not X64, reason="published digits need float64")
def test_spector_against_stata():
    """Stata 11's logit on the Spector data, as statsmodels' test results publish it."""
    from statsmodels.datasets import spector
    from statsmodels.discrete.tests.results.results_discrete import Spector

    data = spector.load()
    X, y = np.asarray(data.exog, np.float64), np.asarray(data.endog, np.float64)
    stata = Spector.logit
    inf = jaxsig.inference(_fit(X, y), X, y)
    # Stata stopped its own iterations about 1e-7 (relative) short of the optimum.
    _close(inf.coef, stata.params, rtol=1e-6)
    _close(inf.se, stata.bse, rtol=1e-6)
    _close(inf.cov, np.asarray(stata.cov_params), rtol=1e-6)


@pytest.mark.skipif(not X64, reason="published digits need float64")
def test_star98_against_r():
    """R's glm(binomial) on Star98 (counts as proportions with variance weights = trials)."""
    from statsmodels.datasets import star98
    from statsmodels.genmod.tests.results.results_glm import Star98

    data = star98.load()
    counts = np.asarray(data.endog, np.float64)
    trials = counts.sum(1)
    X = np.asarray(data.exog, np.float64)
    y = counts[:, 0] / trials
    r = Star98()
    scale = np.std(X, axis=0)
    params = _fit(X / scale, y, sample_weight=trials)  # standardised for Newton's conditioning
    params = jaxsig.Params(params.w / scale, params.b)
    inf = jaxsig.inference(params, X, y, var_weight=trials)
    _close(inf.coef, r.params, rtol=2e-7)
    _close(inf.se, r.bse, rtol=2e-6)  # 7 published digits
    _close(inf.deviance, r.deviance, rtol=1e-9)
    _close(inf.null_deviance, r.null_deviance, rtol=1e-9)


def test_p_values_stay_accurate_in_the_tail():
    rng = np.random.default_rng(3)
    n = 20_000
    X = rng.normal(size=(n, 2))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ [0.9, 0.2])))).astype(float)
    inf = jaxsig.inference(_fit(X, y), X, y)
    z = np.asarray(inf.z, np.float64)
    expected = 2 * scipy.stats.norm.sf(np.abs(z))
    assert np.max(np.abs(z)) > (30 if X64 else 10)
    representable = expected > np.finfo(np.asarray(inf.p_value).dtype).tiny
    _close(
        np.asarray(inf.p_value)[representable], expected[representable], rtol=1e-12 if X64 else 1e-5
    )
    assert np.all(np.asarray(inf.p_value)[representable] > 0)


def test_wald_intervals_cover_at_their_level_under_one_vmap():
    """1,000 simulated data sets, fitted and inferred in one vmapped call: 95% intervals for
    each coefficient cover the truth 93.5% to 96.5% of the time."""
    truth = np.array([0.8, -0.5, 0.25])
    keys = jax.random.split(jax.random.key(0), 1000)
    n = 300

    def one(key):
        kx, ky = jax.random.split(key)
        X = jax.random.normal(kx, (n, 2))
        p = jax.nn.sigmoid(X @ truth[:2] + truth[2])
        y = jax.random.bernoulli(ky, p).astype(X.dtype)
        params = jaxsig.fit(X, y, solver="newton", tol=TOL, epochs=50).params
        inf = jaxsig.inference(params, X, y)
        return (inf.ci_low <= truth) & (truth <= inf.ci_high)

    covered = np.asarray(jax.jit(jax.vmap(one))(keys)).mean(0)
    assert np.all((covered >= 0.935) & (covered <= 0.965)), covered


def test_vmap_and_jit_equal_a_loop_of_eager_calls():
    X, y, _, rng = _data(n=150)
    ys = np.stack([y, 1 - y, (rng.uniform(size=len(y)) < 0.4).astype(float)])
    params = [_fit(X, yi) for yi in ys]
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *params)
    batched = jax.vmap(lambda p, yi: jaxsig.inference(p, X, yi, cov_type="HC3"))(stacked, ys)
    Xj = jnp.asarray(X)
    jitted = jax.jit(lambda p, yi: jaxsig.inference(p, Xj, yi, cov_type="HC3"))  # closes over Xj
    for i, (p, yi) in enumerate(zip(params, ys, strict=True)):
        eager = jaxsig.inference(p, X, yi, cov_type="HC3")
        for name, value in eager._asdict().items():
            if name == "newton_step":  # rounding noise near 0
                continue
            _close(
                np.asarray(getattr(batched, name))[i], np.asarray(value), rtol=1e-6 if X64 else 1e-4
            )
            _close(getattr(jitted(p, yi), name), np.asarray(value), rtol=1e-12 if X64 else 1e-5)


def test_traced_cluster_codes_equal_concrete_labels():
    X, y, _, rng = _data(n=150)
    params = _fit(X, y)
    labels = rng.choice(np.array(["a", "b", "c", "d", "e", "f"]), len(y))
    codes = np.unique(labels, return_inverse=True)[1]
    concrete = jaxsig.inference(params, X, y, cov_type="cluster", groups=labels)
    traced = jax.jit(lambda g: jaxsig.inference(params, X, y, cov_type="cluster", groups=g))(codes)
    _close(traced.se, np.asarray(concrete.se), rtol=1e-10 if X64 else 1e-5)


@pytest.mark.skipif(not X64, reason="finite differences need float64")
def test_gradient_of_a_standard_error_with_respect_to_the_data():
    X, y, _, _ = _data(n=80)

    def se0(X):
        params = jaxsig.fit(X, y, solver="newton", tol=1e-14, epochs=100).params
        return jaxsig.inference(params, X, y).se[0]

    grad = np.asarray(jax.grad(se0)(jnp.asarray(X)))
    h = 1e-6
    for i, j in [(0, 0), (5, 1), (17, 2), (40, 0)]:
        up, down = X.copy(), X.copy()
        up[i, j] += h
        down[i, j] -= h
        fd = (float(se0(up)) - float(se0(down))) / (2 * h)
        np.testing.assert_allclose(grad[i, j], fd, rtol=1e-5, atol=1e-9)


def test_bad_arguments_are_refused_by_name():
    X, y, _, _ = _data(n=50)
    params = _fit(X, y)
    with pytest.raises(ValueError, match="cov_type"):
        jaxsig.inference(params, X, y, cov_type="HC4")
    with pytest.raises(ValueError, match="groups"):
        jaxsig.inference(params, X, y, cov_type="cluster")
    with pytest.raises(ValueError, match="groups"):
        jaxsig.inference(params, X, y, groups=np.zeros(50))
    with pytest.raises(ValueError, match="unpenalised"):
        jaxsig.inference(params, X, y, l2=0.1)
    with pytest.raises(ValueError, match="offset"):
        jaxsig.inference(params, X, y, offset=np.zeros(3))
    with pytest.raises(ValueError, match="var_weight"):
        jaxsig.inference(params, X, y, var_weight=-np.ones(50))
    with pytest.raises(ValueError, match="alpha"):
        jaxsig.inference(params, X, y, alpha=1.5)
    with pytest.raises(ValueError, match="one output"):
        jaxsig.inference(jaxsig.init(3, 2), X, np.c_[y, y])
    with pytest.raises(ValueError, match="one cluster"):
        jaxsig.inference(params, X, y, cov_type="cluster", groups=np.zeros(50))
