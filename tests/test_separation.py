"""jaxsig.separation (complete and quasi-complete, by linear programming) and jaxsig.summary."""

import warnings

import numpy as np
import pytest
from support import X64

import jaxsig

TOL = 1e-13 if X64 else 1e-6


def _data(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ [1.0, -1.0, 0.5])))).astype(float)
    return X, y, rng


def test_overlapping_classes_are_not_separated():
    X, y, _ = _data()
    assert not jaxsig.separation(X, y).separated


def test_complete_separation_moves_every_coefficient():
    X, y, rng = _data()
    X[:, 2] = np.where(y > 0, 1.0, -1.0) + 0.1 * rng.normal(size=len(y))
    found = jaxsig.separation(X, y)
    assert found.separated and found.complete
    assert found.columns == (0, 1, 2, 3)
    np.testing.assert_array_equal(found.rows, np.arange(len(y)))
    assert np.all((2 * y - 1) * (np.c_[X, np.ones(len(y))] @ found.direction) > 0)


def test_quasi_complete_separation_names_its_column():
    """x2 > 0 only for (half the) positives, 0 elsewhere: x2's weight grows without bound, the
    others keep finite estimates (statsmodels only warns, without naming anything)."""
    X, y, rng = _data()
    X[:, 2] = 0.0
    positives = np.nonzero(y > 0)[0][::2]
    X[positives, 2] = rng.uniform(0.5, 2, positives.size)
    found = jaxsig.separation(X, y)
    assert found.separated and not found.complete
    assert found.columns == (2,)
    np.testing.assert_array_equal(found.rows, positives)


def test_zero_weight_rows_and_soft_labels():
    X, y, rng = _data()
    X[:, 2] = np.where(y > 0, 1.0, -1.0) * rng.uniform(1, 2, len(y))
    w = np.ones(len(y))
    flip = np.argmax(X[:, 2])  # the positive farthest from the boundary
    y_bad = y.copy()
    y_bad[flip] = 0.0  # one row on the wrong side: no separation ...
    assert not jaxsig.separation(X, y_bad).separated
    w[flip] = 0.0  # ... unless it does not count
    assert jaxsig.separation(X, y_bad, sample_weight=w).separated
    soft = y.copy()
    soft[flip] = 0.5  # a soft label pins its row to the boundary: x2 alone cannot do that
    assert jaxsig.separation(X, soft).complete is False


def test_without_intercept():
    X, y, _ = _data()
    X[:, 0] = np.where(y > 0, 2.0, 1.0)  # separates only with an intercept
    assert jaxsig.separation(X, y).separated
    assert not jaxsig.separation(X, y, fit_intercept=False).separated


def test_summary_prints_the_inference_and_names_columns():
    X, y, _ = _data()
    params = jaxsig.fit(X, y, solver="newton", tol=TOL, epochs=100).params
    text = jaxsig.summary(params, X, y, feature_names=["age", "dose", "sex"], cov_type="HC1")
    inf = jaxsig.inference(params, X, y, cov_type="HC1")
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    for j, name in enumerate(["age", "dose", "sex", "intercept"]):
        coef, se, z = (float(v) for v in lines[name][1:4])
        expected = [inf.coef[j], inf.se[j], inf.z[j]]
        np.testing.assert_allclose([coef, se, z], expected, atol=6e-4)  # 3 to 4 decimals
    assert "HC1" in text and "[0.025" in text and "Pseudo R-sq." in text


def test_summary_marks_separated_coefficients_and_warns():
    X, y, rng = _data()
    X[:, 2] = 0.0
    positives = np.nonzero(y > 0)[0][::2]
    X[positives, 2] = rng.uniform(0.5, 2, positives.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = jaxsig.fit(X, y, solver="newton", tol=1e-6, epochs=50).params
    with pytest.warns(jaxsig.PerfectSeparationWarning, match="quasi-completely separated") as w:
        text = jaxsig.summary(params, X, y, feature_names=["a", "b", "c"])
    assert w[0].message.columns == (2,)
    row = next(line for line in text.splitlines() if line.startswith("c *"))
    assert row.split()[3:] == ["-"] * 5  # no std err, z, p or interval
    assert "no finite maximum-likelihood estimate" in text


def test_summary_refuses_wrong_names():
    X, y, _ = _data()
    params = jaxsig.fit(X, y, solver="newton", tol=TOL, epochs=100).params
    with pytest.raises(ValueError, match="feature_names"):
        jaxsig.summary(params, X, y, feature_names=["a"])
