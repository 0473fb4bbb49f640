"""penalty_factor (glmnet's penalty.factor): per-coefficient multipliers of l1 and l2, traced,
against scikit-learn on rescaled columns and the optimality conditions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from support import X64

import jaxsig

TOL = 1e-12 if X64 else 1e-6
RTOL = 1e-6 if X64 else 2e-3


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (rng.uniform(size=300) < 1 / (1 + np.exp(-(X @ [1.0, -1.0, 0.5] + 0.2)))).astype(float)
    return X, y


def test_ridge_factors_equal_scikit_learn_on_rescaled_columns(data):
    """A penalty l2 c_j w_j^2 / 2 is the ordinary one on the column x_j / sqrt(c_j)."""
    X, y = data
    l2, factor = 0.05, np.array([0.5, 2.0, 4.0])
    params = jaxsig.fit(
        X, y, solver="newton", l2=l2, penalty_factor=factor, tol=TOL, epochs=100
    ).params
    scaled = X / np.sqrt(factor)
    sk = LogisticRegression(C=1 / (l2 * len(y)), tol=1e-12, max_iter=1000).fit(scaled, y)
    np.testing.assert_allclose(params.w, sk.coef_[0] / np.sqrt(factor), rtol=RTOL)
    np.testing.assert_allclose(params.b, sk.intercept_[0], rtol=RTOL)


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "fista"])
def test_a_zero_factor_leaves_its_coefficient_unpenalised(data, solver):
    X, y = data
    factor = np.array([0.0, 1.0, 1.0])
    penalty = {"l1": 0.02} if solver == "fista" else {"l2": 0.5}
    params = jaxsig.fit(
        X, y, solver=solver, penalty_factor=factor, tol=TOL, epochs=5000, **penalty
    ).params
    # The unpenalised coefficient's loss gradient is zero; a penalised one's is not.
    grad = jaxsig.gradient(params, X, y)
    assert abs(float(grad.w[0])) < 10 * TOL + (1e-5 if not X64 else 0)
    assert abs(float(grad.w[1])) > 1e-3


def test_sweep_with_factors_equals_fits_and_is_differentiable(data):
    X, y = data
    factor = jnp.array([0.0, 1.0, 3.0])
    result = jaxsig.sweep(
        X, y, solver="newton", l2=[0.01, 0.1], penalty_factor=factor, tol=TOL, epochs=100
    )
    for i, l2 in enumerate([0.01, 0.1]):
        one = jaxsig.fit(
            X, y, solver="newton", l2=l2, penalty_factor=factor, tol=TOL, epochs=100
        ).params
        np.testing.assert_allclose(result.params.w[i], one.w, rtol=RTOL, atol=RTOL)

    def weight(factor):
        return jaxsig.fit(
            X, y, solver="newton", l2=0.1, penalty_factor=factor, tol=TOL, epochs=100
        ).params.w[2]

    grad = jax.grad(weight)(factor)
    assert grad.shape == (3,) and float(grad[2]) * float(weight(factor)) < 0  # shrinks it
    if X64:
        h = 1e-6
        fd = (weight(factor.at[2].add(h)) - weight(factor.at[2].add(-h))) / (2 * h)
        np.testing.assert_allclose(grad[2], fd, rtol=1e-5)


def test_bad_factors_are_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="penalty_factor"):
        jaxsig.fit(X, y, l2=0.1, penalty_factor=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="penalty_factor"):
        jaxsig.sweep(X, y, l2=0.1, penalty_factor=np.ones(2))
