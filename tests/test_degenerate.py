"""Degenerate data: Newton returns finite parameters and the fit says why, naming the columns.

Each case is one that returned NaN before. References: the same fit without the redundant
column (whose predictions the degenerate fit must reproduce), and scikit-learn's unpenalised
optimum on that reduced design.
"""

import warnings

import jax
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import jaxsig
from jaxsig._solvers.newton import direction

DTYPE = np.float64 if jax.config.jax_enable_x64 else np.float32
TOL = 1e-9 if jax.config.jax_enable_x64 else 1e-5


def data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X @ np.array([1.0, -0.5, 0.3]) + rng.logistic(size=n) > 0).astype(float)
    return X, y, rng


def fitted(X, y, **options):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = jaxsig.fit(X.astype(DTYPE), y.astype(DTYPE), solver="newton", **options)
    degenerate = [w.message for w in caught if isinstance(w.message, jaxsig.DegenerateDataWarning)]
    return result, degenerate


def probabilities(result, X):
    return np.asarray(jaxsig.predict_proba(result.params, X.astype(DTYPE)), np.float64)


def reduced_reference(X, y):
    """scikit-learn's unpenalised fit: the probabilities every optimum of the full design has."""
    reference = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    return reference.predict_proba(X)[:, 1]


def test_plain_data_warn_nothing():
    X, y, _ = data()
    result, degenerate = fitted(X, y, l2=0.0, tol=TOL)
    assert bool(result.converged) and degenerate == []


@pytest.mark.parametrize(
    ("case", "columns", "words"),
    [
        ("constant", (3,), "X column 3 is constant"),
        ("duplicate", (0, 3), "X columns 0, 3 are collinear with the intercept"),
        ("one-hot", (3, 4, 5, 6), "X columns 3, 4, 5, 6 are collinear with the intercept"),
    ],
)
def test_singular_designs_give_the_optimum_and_name_the_columns(case, columns, words):
    X, y, rng = data()
    extra = {
        "constant": np.ones((len(X), 1)),
        "duplicate": X[:, :1],
        "one-hot": np.eye(4)[rng.integers(0, 4, len(X))],
    }[case]
    full = np.c_[X, extra]
    result, degenerate = fitted(full, y, l2=0.0, tol=TOL)
    assert np.all(np.isfinite(np.asarray(result.params.w))) and bool(result.converged)
    assert len(degenerate) == 1 and degenerate[0].columns == columns
    assert words in str(degenerate[0])
    # the optimum's predictions: those of the design without the redundant column
    reduced = full[:, :3] if case != "one-hot" else full[:, :-1]
    np.testing.assert_allclose(
        probabilities(result, full),
        reduced_reference(reduced, y),
        atol=1e-6 if np.float64 == DTYPE else 2e-4,
    )
    if case == "duplicate":  # damping keeps the split between equal columns even
        # float32: the damped solve resolves the null direction to about sqrt(eps) = 3e-4 (one
        # fresh install measured 1.1e-4); float64 holds it to 1e-4 with room
        w = np.asarray(result.params.w, np.float64)
        np.testing.assert_allclose(w[0], w[3], rtol=1e-4 if np.float64 == DTYPE else 1e-3)


def test_a_feature_near_1e30_gives_finite_weights_and_says_to_scale():
    X, y, rng = data()
    huge = 1e30 if np.float32 == DTYPE else 1e160  # its square overflows the dtype
    full = np.c_[X, huge * rng.normal(size=len(X))]
    result, degenerate = fitted(full, y, l2=0.0, tol=TOL, epochs=20)
    assert np.all(np.isfinite(np.asarray(result.params.w)))
    assert [w.columns for w in degenerate] == [(3,)]
    assert "X column 3 reaches" in str(degenerate[0]) and "standardise" in str(degenerate[0])


def test_separable_data_without_tol_stay_finite_and_say_so():
    X, _, _ = data()
    y = (X[:, 0] > 0).astype(float)
    result, degenerate = fitted(X[:, :1], y, epochs=100)
    assert np.all(np.isfinite(np.asarray(result.params.w))) and np.isfinite(result.params.b)
    assert len(degenerate) == 1 and "separable" in str(degenerate[0])
    assert "l2 > 0" in str(degenerate[0])
    assert not np.any(np.isnan(np.asarray(result.history)))


def test_no_warning_with_a_penalty():
    X, y, _ = data()
    _, degenerate = fitted(np.c_[X, X[:, :1]], y, l2=1e-3, tol=TOL)
    assert degenerate == []


def test_damped_direction_descends_on_a_singular_hessian():
    h = np.array([[2.0, 2.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, 1.0]], DTYPE)
    g = np.array([1.0, 1.0, -0.5], DTYPE)
    d = np.asarray(direction(h, g), np.float64)
    assert np.all(np.isfinite(d)) and d @ g < 0
    # Nothing along the null space (1, -1): the damped solve, of condition ~ 1/sqrt(eps), keeps
    # the symmetry to about sqrt(eps) (4.7e-5 measured in float32 on some machines).
    np.testing.assert_allclose(d[0], d[1], rtol=1e-6 if jax.config.jax_enable_x64 else 1e-3)
    d = np.asarray(direction(np.zeros((3, 3), DTYPE), g), np.float64)  # curvature vanished
    assert np.all(np.isfinite(d)) and d @ g < 0
    regular = np.array([[2.0, 0.5], [0.5, 1.0]], DTYPE)
    np.testing.assert_allclose(
        direction(regular, np.array([1.0, -1.0], DTYPE)),
        -np.linalg.solve(regular, [1.0, -1.0]),
        rtol=1e-5,
    )
