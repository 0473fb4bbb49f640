"""offset: a known term in every logit, through fit (every solver), sweep, the objective,
prediction, implicit derivatives and the scikit-learn estimator, against statsmodels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn
from sklearn.model_selection import cross_val_score
from support import X64

import jaxsig
from jaxsig.sklearn import LogisticClassifier

sm = pytest.importorskip("statsmodels.api")

# Newton and L-BFGS reach the optimum to rounding; the first-order solvers to their tolerance
# or epochs. float32 resolves an optimum to about sqrt(eps) of the coefficients.
ATOL = {"newton": 1e-9, "lbfgs": 1e-7, "fista": 1e-7, "gd": 1e-6, "sgd": 1e-3}


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    n = 400
    X = rng.normal(size=(n, 3))
    o = rng.normal(size=n)
    z = X @ [1.0, -1.0, 0.5] + 0.3 + o
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(float)
    res = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), offset=o).fit(tol=1e-15)
    return X, y, o, np.roll(res.params, -1), res


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "fista", "gd", "sgd"])
def test_every_solver_reaches_statsmodels_optimum_with_an_offset(problem, solver):
    X, y, o, expected, _ = problem
    options = {
        "gd": {"epochs": 3000, "learning_rate": 1.0},
        "sgd": {"epochs": 300, "batch_size": 400, "learning_rate": 0.5},
    }.get(solver, {"epochs": 200, "tol": 1e-12 if X64 else 1e-6})
    params = jaxsig.fit(X, y, solver=solver, offset=o, **options).params
    atol = ATOL[solver] if X64 else max(ATOL[solver], 2e-3)
    np.testing.assert_allclose(np.r_[params.w, params.b], expected, atol=atol)


def test_sweep_with_an_offset_equals_separate_fits(problem):
    X, y, o, _, _ = problem
    tol = 1e-10 if X64 else 1e-5
    result = jaxsig.sweep(X, y, solver="newton", l2=[0.0, 0.1, 1.0], offset=o, tol=tol, epochs=50)
    for i, l2 in enumerate([0.0, 0.1, 1.0]):
        one = jaxsig.fit(X, y, solver="newton", l2=l2, offset=o, tol=tol, epochs=50).params
        np.testing.assert_allclose(result.params.w[i], one.w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(result.params.b[i], one.b, rtol=1e-5, atol=1e-6)


def test_objective_and_prediction_add_the_offset(problem):
    X, y, o, expected, res = problem
    params = jaxsig.Params(jnp.asarray(expected[:3]), jnp.asarray(expected[3]))
    rtol = 1e-12 if X64 else 1e-5
    np.testing.assert_allclose(
        jaxsig.objective(params, X, y, offset=o) * len(y), -res.llf, rtol=rtol
    )
    np.testing.assert_allclose(
        jaxsig.predict_proba(params, X, offset=o), res.fittedvalues, rtol=1e-12 if X64 else 1e-5
    )
    z = np.asarray(jaxsig.decision_function(params, X, offset=o))
    np.testing.assert_allclose(z, X @ expected[:3] + expected[3] + o, rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(jaxsig.predict(params, X, offset=o), (z > 0).astype(int))
    with pytest.raises(ValueError, match="offset must have shape"):
        jaxsig.predict_proba(params, X, offset=o[:5])
    with pytest.raises(ValueError, match="offset contains"):
        jaxsig.fit(X, y, offset=np.where(np.arange(len(y)) == 3, np.nan, o))


def test_early_stopping_takes_its_offsets_from_a_mask(problem):
    X, y, o, _, _ = problem
    mask = (np.arange(len(y)) < 80).astype(float)
    result = jaxsig.fit(X, y, solver="newton", offset=o, epochs=20, validation=mask)
    params = result.params
    held = slice(0, 80)
    loss = jaxsig.objective(params, X[held], y[held], offset=o[held])
    np.testing.assert_allclose(np.nanmin(result.validation_history), loss, rtol=1e-5)
    with pytest.raises(ValueError, match="0/1 mask"):
        jaxsig.fit(X, y, offset=o, validation=(X[:10], y[:10]))


def test_jit_over_a_closed_over_offset_and_vmap_over_offsets(problem):
    X, y, o, _, _ = problem
    oj = jnp.asarray(o)
    jitted = jax.jit(lambda X: jaxsig.fit(X, y, solver="newton", offset=oj, epochs=20).params)(X)
    eager = jaxsig.fit(X, y, solver="newton", offset=o, epochs=20).params
    np.testing.assert_array_equal(jitted.w, eager.w)
    offsets = np.stack([o, 0.5 * o, np.zeros_like(o)])
    batched = jax.vmap(lambda o: jaxsig.fit(X, y, solver="newton", offset=o, epochs=20).params)(
        offsets
    )
    for i, oi in enumerate(offsets):
        one = jaxsig.fit(X, y, solver="newton", offset=oi, epochs=20).params
        np.testing.assert_allclose(batched.w[i], one.w, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not X64, reason="finite differences need float64")
def test_implicit_derivative_with_respect_to_the_offset(problem):
    X, y, o, _, _ = problem

    def first_weight(o):
        return jaxsig.fit(X, y, solver="newton", offset=o, tol=1e-14, epochs=50).params.w[0]

    grad = np.asarray(jax.grad(first_weight)(jnp.asarray(o)))
    for i in (3, 100, 250):
        step = np.zeros_like(o)
        step[i] = 1e-6
        fd = (float(first_weight(o + step)) - float(first_weight(o - step))) / 2e-6
        np.testing.assert_allclose(grad[i], fd, rtol=1e-5)


def test_estimator_takes_the_offset_as_fit_metadata(problem):
    X, y, o, expected, res = problem
    model = LogisticClassifier(C=np.inf, tol=1e-10).fit(X, y, offset=o)
    np.testing.assert_allclose(
        np.r_[model.coef_[0], model.intercept_], expected, atol=1e-7 if X64 else 1e-4
    )
    np.testing.assert_allclose(model.bse_, np.roll(res.bse, -1), rtol=1e-5)
    np.testing.assert_allclose(model.predict_proba(X, offset=o)[:, 1], res.fittedvalues, rtol=1e-6)
    with sklearn.config_context(enable_metadata_routing=True):
        routed = LogisticClassifier(C=np.inf).set_fit_request(offset=True)
        routed.set_score_request(sample_weight=False)
        scores = cross_val_score(routed, X, y, cv=3, params={"offset": o})
    assert scores.shape == (3,)
