"""jaxsig.bootstrap: resamples against a loop of eager fits, intervals against NumPy and SciPy."""

import jax
import numpy as np
import pytest
import scipy.stats
from sklearn.linear_model import LogisticRegression
from support import X64

import jaxsig

RTOL = 1e-7 if X64 else 2e-3


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ [1.0, -0.7] + 0.2)))).astype(float)
    return X, y


def _counts(key, B, n):
    """The resamples bootstrap draws from ``key``: multinomial counts of n draws."""
    draws = [np.asarray(jax.random.randint(k, (n,), 0, n)) for k in jax.random.split(key, B)]
    return np.stack([np.bincount(d, minlength=n) for d in draws]).astype(float)


@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_replicates_equal_a_loop_of_eager_fits(l2):
    X, y = _data()
    key = jax.random.key(3)
    result = jaxsig.bootstrap(X, y, key=key, n_resamples=8, l2=l2)
    for b, counts in enumerate(_counts(key, 8, len(y))):
        params = jaxsig.fit(
            X,
            y,
            solver="newton",
            tol=1e-10 if X64 else 1e-5,
            epochs=100,
            l2=l2,
            sample_weight=counts,
        ).params
        expected = np.r_[np.asarray(params.w), float(params.b)]
        np.testing.assert_allclose(result.replicates[b], expected, rtol=RTOL, atol=RTOL)
    assert bool(np.all(result.converged))
    full = LogisticRegression(C=np.inf if l2 == 0 else 1 / (l2 * len(y)), tol=1e-10).fit(X, y)
    np.testing.assert_allclose(
        result.estimate, np.r_[full.coef_[0], full.intercept_], rtol=1e-5 if X64 else 2e-3
    )


def test_percentile_and_bca_limits():
    X, y = _data()
    result = jaxsig.bootstrap(X, y, key=jax.random.key(0), n_resamples=400, alpha=0.1)
    reps = np.asarray(result.replicates, np.float64)
    np.testing.assert_allclose(result.percentile_low, np.quantile(reps, 0.05, axis=0), rtol=1e-5)
    np.testing.assert_allclose(result.percentile_high, np.quantile(reps, 0.95, axis=0), rtol=1e-5)
    np.testing.assert_allclose(result.se, reps.std(0, ddof=1), rtol=1e-4)
    # Efron's BCa from these replicates and this acceleration, written out with SciPy.
    theta = np.asarray(result.estimate, np.float64)
    z0 = scipy.stats.norm.ppf(np.mean(reps < theta, 0) + 0.5 * np.mean(reps == theta, 0))
    a = np.asarray(result.acceleration, np.float64)
    for q, got in ((0.05, result.bca_low), (0.95, result.bca_high)):
        zq = scipy.stats.norm.ppf(q)
        level = scipy.stats.norm.cdf(z0 + (z0 + zq) / (1 - a * (z0 + zq)))
        expected = [np.quantile(reps[:, j], level[j]) for j in range(reps.shape[1])]
        np.testing.assert_allclose(got, expected, rtol=1e-4)
    np.testing.assert_allclose(result.bias, z0, rtol=1e-4, atol=1e-6)


def test_acceleration_agrees_with_the_leave_one_out_jackknife():
    """The infinitesimal jackknife's acceleration against the jackknife's from n refits
    (scikit-learn), which it approximates to O(1/n)."""
    X, y = _data(n=80)
    result = jaxsig.bootstrap(X, y, key=jax.random.key(0), n_resamples=2)
    loo = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        m = LogisticRegression(C=np.inf, tol=1e-12, max_iter=1000).fit(X[keep], y[keep])
        loo.append(np.r_[m.coef_[0], m.intercept_])
    loo = np.asarray(loo)
    d = loo.mean(0) - loo
    jackknife = (d**3).sum(0) / (6 * ((d**2).sum(0)) ** 1.5)
    np.testing.assert_allclose(result.acceleration, jackknife, rtol=0.15, atol=2e-3)


def test_bad_arguments():
    X, y = _data()
    with pytest.raises(ValueError, match="n_resamples"):
        jaxsig.bootstrap(X, y, key=jax.random.key(0), n_resamples=1)
    with pytest.raises(ValueError, match="one output"):
        jaxsig.bootstrap(X, np.c_[y, y], key=jax.random.key(0))
    with pytest.raises(ValueError, match="alpha"):
        jaxsig.bootstrap(X, y, key=jax.random.key(0), alpha=0)
