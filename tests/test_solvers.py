"""Every solver against scikit-learn's LogisticRegression; stopping, weights, options."""

import functools
import inspect
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from support import FULL_DTYPES, dtype_param

import jaxsig
from jaxsig._solvers import _driver

# Relative objective gap and coefficient agreement with scikit-learn (issue 3).
GAP = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-6}
COEF_RTOL = {np.dtype(np.float32): 2e-2, np.dtype(np.float64): 1e-4}
TOL = {np.dtype(np.float32): 5e-5, np.dtype(np.float64): 1e-8}  # near each gradient noise floor

SMOOTH_SOLVERS = {
    "newton": dict(solver="newton"),
    "lbfgs": dict(solver="lbfgs"),
    "gd-line-search": dict(solver="gd", line_search=True, learning_rate=1.0),
    "fista": dict(solver="fista"),
}


@functools.cache
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y.astype(float)


@functools.cache
def synthetic(n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    logits = X @ rng.normal(size=d) + 0.3
    return X, (rng.uniform(size=n) < 1 / (1 + np.exp(-logits))).astype(float)


def sklearn_fit(X, y, *, C, l1_ratio=0.0, sample_weight=None, **kwargs):
    """scikit-learn at a tight tolerance; its objective is C * sum(loss) + penalty."""
    options = dict(C=C, tol=1e-12, max_iter=100_000, **kwargs)
    if l1_ratio:
        options.update(solver="saga", l1_ratio=l1_ratio)
        if inspect.signature(LogisticRegression).parameters["penalty"].default != "deprecated":
            options["penalty"] = "elasticnet"
    else:
        options.setdefault("solver", "newton-cholesky")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saga's ConvergenceWarning at this tolerance
        model = LogisticRegression(**options).fit(X, y, sample_weight=sample_weight)
    return model


def objective(params, X, y, l2, weights=None):
    return float(jaxsig.objective(params, X, y, l2=l2, sample_weight=weights))


def assert_same_optimum(result, reference, X, y, l2, dtype, weights=None):
    ours = result.params
    theirs = jaxsig.Params(jnp.asarray(reference.coef_[0]), jnp.asarray(reference.intercept_[0]))
    X64 = np.asarray(X, np.float64)
    f_ours = objective(jax.tree.map(lambda a: np.asarray(a, np.float64), ours), X64, y, l2, weights)
    f_theirs = objective(theirs, X64, y, l2, weights)
    assert (f_ours - f_theirs) / f_theirs <= GAP[np.dtype(dtype)]
    scale = np.max(np.abs(reference.coef_))
    coef_gap = np.max(np.abs(np.asarray(ours.w, np.float64) - reference.coef_[0])) / scale
    assert coef_gap <= COEF_RTOL[np.dtype(dtype)]


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("data", [breast_cancer, synthetic], ids=["breast-cancer", "synthetic"])
@pytest.mark.parametrize("name", SMOOTH_SOLVERS)
def test_smooth_solvers_reach_sklearns_optimum(name, data, dtype):
    X, y = data()
    n, C = len(y), 1.0
    l2 = 1 / (n * C)
    reference = sklearn_fit(X, y, C=C)
    result = jaxsig.fit(
        X.astype(dtype), y, l2=l2, tol=TOL[np.dtype(dtype)], epochs=20_000, **SMOOTH_SOLVERS[name]
    )
    assert bool(result.converged)
    assert_same_optimum(result, reference, X.astype(dtype), y, l2, dtype)


@dtype_param([np.float64])
def test_optax_adam_reaches_sklearns_optimum(dtype):
    X, y = synthetic()
    l2 = 1 / len(y)
    reference = sklearn_fit(X, y, C=1.0)
    result = jaxsig.fit(
        X, y, l2=l2, optimizer=optax.adam, learning_rate=0.05, tol=1e-9, epochs=20_000
    )
    assert_same_optimum(result, reference, X, y, l2, dtype)


@dtype_param([np.float64])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5], ids=["l1", "elastic-net"])
def test_fista_matches_saga_support_and_values(l1_ratio, dtype):
    X, y = breast_cancer()
    n, C = len(y), 0.1
    strength = 1 / (n * C)
    reference = sklearn_fit(X, y, C=C, l1_ratio=l1_ratio)
    result = jaxsig.fit(
        X,
        y,
        solver="fista",
        l1=strength * l1_ratio,
        l2=strength * (1 - l1_ratio),
        tol=1e-12,
        epochs=100_000,
    )
    w = np.asarray(result.params.w)
    assert 0 < np.count_nonzero(w) < w.size  # the penalty really zeroes some coefficients
    np.testing.assert_array_equal(w != 0, reference.coef_[0] != 0)
    np.testing.assert_allclose(w, reference.coef_[0], atol=1e-7)
    np.testing.assert_allclose(result.params.b, reference.intercept_[0], atol=1e-7)


@dtype_param([np.float64])
def test_weights_match_sklearn(dtype):
    X, y = synthetic()
    weights = np.random.default_rng(5).uniform(0, 3, len(y))
    C = 0.5
    reference = sklearn_fit(X, y, C=C, sample_weight=weights)
    l2 = 1 / (C * weights.sum())
    result = jaxsig.fit(X, y, solver="newton", l2=l2, sample_weight=weights, tol=1e-10)
    assert_same_optimum(result, reference, X, y, l2, dtype, weights)

    y_skewed = (np.arange(len(y)) % 5 == 0).astype(float)
    reference = sklearn_fit(X, y_skewed, C=C, class_weight="balanced")
    balanced = len(y) / (2 * np.bincount(y_skewed.astype(int)))[y_skewed.astype(int)]
    l2 = 1 / (C * balanced.sum())
    result = jaxsig.fit(X, y_skewed, solver="newton", l2=l2, class_weight="balanced", tol=1e-10)
    assert_same_optimum(result, reference, X, y_skewed, l2, dtype, balanced)


@dtype_param([np.float64])
def test_no_intercept_matches_sklearn(dtype):
    X, y = synthetic()
    reference = sklearn_fit(X, y, C=1.0, fit_intercept=False)
    for solver in ("newton", "lbfgs"):
        result = jaxsig.fit(X, y, solver=solver, l2=1 / len(y), fit_intercept=False, tol=1e-10)
        assert float(result.params.b) == 0.0
        np.testing.assert_allclose(result.params.w, reference.coef_[0], rtol=1e-6)


def test_weight_two_equals_a_repeated_row_for_newton():
    X, y = synthetic(n=60)
    weights = np.where(np.arange(60) % 3 == 0, 2.0, 1.0)
    rows = np.repeat(np.arange(60), weights.astype(int))
    weighted = jaxsig.fit(X, y, solver="newton", l2=0.01, sample_weight=weights, tol=1e-6)
    repeated = jaxsig.fit(X[rows], y[rows], solver="newton", l2=0.01, tol=1e-6)
    np.testing.assert_allclose(weighted.params.w, repeated.params.w, rtol=1e-5)


def test_newton_per_output_equals_single_fits():
    X, y0 = synthetic(n=80, seed=1)
    _, y1 = synthetic(n=80, seed=2)
    Y = np.stack([y0, y1], axis=1)
    joint = jaxsig.fit(X, Y, solver="newton", l2=0.05, tol=1e-6, epochs=50)
    assert joint.history.shape == (50, 2) and joint.iterations.shape == (2,)
    for j in range(2):
        single = jaxsig.fit(X, Y[:, j], solver="newton", l2=0.05, tol=1e-6, epochs=50)
        np.testing.assert_allclose(joint.params.w[:, j], single.params.w, rtol=1e-5, atol=1e-6)


def test_tolerance_stop_reports_and_warns():
    X, y = synthetic(n=100)
    result = jaxsig.fit(X, y, solver="newton", l2=0.01, tol=1e-5, epochs=100)
    assert bool(result.converged) and float(result.gradient_norm) <= 1e-5
    iterations = int(result.iterations)
    assert 2 <= iterations < 20
    assert np.isnan(np.asarray(result.history)[iterations + 1 :]).all()
    with pytest.warns(jaxsig.ConvergenceWarning, match="did not reach tol=1e-07 in 3 epochs"):
        missed = jaxsig.fit(X, y, solver="gd", l2=0.01, tol=1e-7, epochs=3)
    assert not bool(missed.converged)


def test_hyperparameters_are_traced_solver_is_static():
    X, y = synthetic(n=50)
    weights = np.ones(50)
    jaxsig.fit(X, y, solver="newton", l2=0.1, tol=1e-4, sample_weight=weights, epochs=30)
    before = _driver.run._cache_size()
    jaxsig.fit(X, y, solver="newton", l2=0.3, tol=1e-6, sample_weight=2 * weights, epochs=30)
    jaxsig.fit(
        X, y, solver="newton", l2=0.3, tol=1e-6, sample_weight=weights, epochs=30,
        fit_intercept=False,
    )  # fmt: skip
    assert _driver.run._cache_size() == before


def test_minibatch_sgd_shuffles_with_its_key_and_pads_the_last_batch():
    X, y = synthetic(n=103)
    common = dict(solver="sgd", batch_size=10, epochs=40, learning_rate=0.1, l2=0.01)
    first = jaxsig.fit(X, y, key=jax.random.key(1), **common)
    before = _driver.run._cache_size()
    again = jaxsig.fit(X, y, key=jax.random.key(1), **common)
    other = jaxsig.fit(X, y, key=jax.random.key(2), **(common | dict(learning_rate=0.05)))
    assert _driver.run._cache_size() == before  # new key and rate: no recompile
    np.testing.assert_array_equal(first.params.w, again.params.w)
    assert not np.array_equal(first.params.w, other.params.w)
    optimum = jaxsig.fit(X, y, solver="newton", l2=0.01, tol=1e-8)
    settled = jaxsig.fit(X, y, **(common | dict(epochs=150, learning_rate=0.03)))
    np.testing.assert_allclose(settled.params.w, optimum.params.w, atol=0.1)  # SGD noise
    with_adam = jaxsig.fit(
        X, y, optimizer=optax.adam, **(common | dict(epochs=150, learning_rate=0.01))
    )
    np.testing.assert_allclose(with_adam.params.w, optimum.params.w, atol=0.1)


def test_minibatch_sgd_honours_weights_even_one_row_at_a_time():
    X, y = synthetic(n=60)
    weights = np.where(y == 1, 5.0, 1.0)
    weights[:7] = 0.0  # a whole batch of zero weight must not divide by zero
    optimum = jaxsig.fit(X, y, solver="newton", l2=0.01, sample_weight=weights, tol=1e-8)
    for batch_size in (1, 7):
        result = jaxsig.fit(
            X, y, solver="sgd", batch_size=batch_size, epochs=150, learning_rate=0.01,
            l2=0.01, sample_weight=weights,
        )  # fmt: skip
        assert np.all(np.isfinite(np.asarray(result.params.w)))
        np.testing.assert_allclose(result.params.b, optimum.params.b, atol=0.15)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(solver="bfgs"), "solver must be gd, sgd, lbfgs, newton or fista"),
        (dict(solver="newton", l1=0.1), "an l1 penalty needs solver='fista'"),
        (dict(solver="lbfgs", learning_rate=0.1), "chooses its own step"),
        (dict(solver="newton", optimizer=optax.adam), "optimizer applies to solver 'gd'"),
        (dict(solver="sgd"), "needs a positive int batch_size"),
        (dict(solver="sgd", batch_size=4, tol=1e-3), "tol must be None"),
        (dict(batch_size=4), "batch_size applies to solver='sgd' only"),
        (dict(line_search=True, solver="lbfgs"), "line_search applies to solver='gd'"),
        (dict(class_weight="even"), "class_weight must be 'balanced' or a mapping"),
        (dict(tol=-1.0), "tol must be finite and >= 0"),
    ],
)
def test_bad_options(options, message):
    X, y = synthetic(n=20)
    with pytest.raises(ValueError, match=message):
        jaxsig.fit(X, y, **options)


@pytest.mark.parametrize("solver", ["gd", "newton", "lbfgs", "fista"])
def test_no_intercept_pins_a_given_intercept_at_zero(solver):
    X, y = synthetic(n=40)
    start = jaxsig.Params(jnp.zeros(X.shape[1]), jnp.asarray(3.0))
    result = jaxsig.fit(X, y, solver=solver, l2=0.1, fit_intercept=False, params=start, epochs=5)
    assert float(result.params.b) == 0.0


def test_fit_intercept_can_be_vmapped():
    X, y = synthetic(n=30)
    intercepts = jax.vmap(lambda on: jaxsig.fit(X, y, epochs=20, fit_intercept=on).params.b)(
        jnp.array([True, False])
    )
    assert float(intercepts[0]) != 0.0 and float(intercepts[1]) == 0.0


@pytest.mark.parametrize("dtype", [np.float16, jnp.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("solver", ["newton", "lbfgs", "fista"])
def test_half_precision_data_are_fitted_in_float32(solver, dtype):
    X, y = synthetic(n=80)
    half = jaxsig.fit(X.astype(dtype), y, solver=solver, l2=0.05, tol=1e-4, epochs=500)
    full = jaxsig.fit(X.astype(np.float32), y, solver=solver, l2=0.05, tol=1e-4, epochs=500)
    assert half.params.w.dtype == dtype
    np.testing.assert_allclose(np.asarray(half.params.w, np.float32), full.params.w, atol=0.05)


def test_many_half_precision_rows_do_not_underflow():
    X, y = synthetic(n=70_000, d=2)
    result = jaxsig.fit(X.astype(np.float16), y, epochs=3, learning_rate=0.5)
    assert np.all(np.isfinite(np.asarray(result.params.w, np.float32)))
    assert np.any(np.asarray(result.params.w, np.float32) != 0)


def test_optax_transformations_with_extra_arguments():
    X, y = synthetic(n=60)
    optimum = jaxsig.fit(X, y, solver="newton", l2=0.05, tol=1e-8)
    result = jaxsig.fit(X, y, optimizer=optax.lbfgs(), l2=0.05, tol=1e-6, epochs=200)
    np.testing.assert_allclose(result.params.w, optimum.params.w, atol=1e-4)


def test_fista_tolerance_holds_at_the_returned_parameters():
    X, y = synthetic(n=200, d=20)
    l1, tol = 0.01, 1e-5
    result = jaxsig.fit(X, y, solver="fista", l1=l1, tol=tol, epochs=20_000)
    assert bool(result.converged)
    grad = jaxsig.gradient(result.params, X, y)
    w, g = np.asarray(result.params.w), np.asarray(grad.w)
    # Optimality (KKT) for l1: g_j = -l1 sign(w_j) where w_j != 0, |g_j| <= l1 where w_j = 0.
    active = w != 0
    assert np.all(np.abs(g[active] + l1 * np.sign(w[active])) <= 10 * tol)
    assert np.all(np.abs(g[~active]) <= l1 + 10 * tol)
    assert abs(float(grad.b)) <= 10 * tol


def test_legacy_keys_and_bad_class_weights():
    X, y = synthetic(n=30)
    common = dict(solver="sgd", batch_size=8, epochs=3)
    jaxsig.fit(X, y, key=jax.random.PRNGKey(1), **common)
    before = _driver.run._cache_size()
    jaxsig.fit(X, y, key=jax.random.PRNGKey(2), **common)
    jaxsig.fit(X, y, key=jax.random.key(3), **common)
    assert _driver.run._cache_size() == before
    with pytest.raises(ValueError, match="class_weight keys must be 0 and 1, weights >= 0"):
        jaxsig.fit(X, y, class_weight={0: np.nan, 1: 1.0})
    with pytest.raises(ValueError, match="sums to zero"):
        jaxsig.fit(X, y, class_weight={0: 0.0, 1: 0.0})
    with pytest.raises(ValueError, match="gradient applies to solver 'gd' or 'sgd'"):
        jaxsig.fit(X, y, solver="newton", gradient="autodiff")


def test_one_batch_holding_every_row_is_plain_gradient_descent():
    X, y = synthetic(n=50)
    full = jaxsig.fit(X, y, optimizer=optax.sgd, learning_rate=0.5, epochs=20, l2=0.01)
    batched = jaxsig.fit(
        X, y, solver="sgd", batch_size=64, learning_rate=0.5, epochs=20, l2=0.01
    )  # fmt: skip
    np.testing.assert_allclose(batched.params.w, full.params.w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batched.history, full.history, rtol=1e-5)


def test_sgd_passes_extra_arguments_to_optax():
    X, y = synthetic(n=40)
    result = jaxsig.fit(X, y, solver="sgd", batch_size=8, epochs=5, optimizer=optax.polyak_sgd())
    assert np.all(np.isfinite(np.asarray(result.params.w)))


def test_half_precision_data_keep_their_weights_wide():
    X, y = synthetic(n=60)
    weights = np.full(60, 1e5)
    half = jaxsig.fit(X.astype(np.float16), y, solver="newton", l2=0.05, sample_weight=weights)
    full = jaxsig.fit(X.astype(np.float32), y, solver="newton", l2=0.05, sample_weight=weights)
    np.testing.assert_allclose(np.asarray(half.params.w, np.float32), full.params.w, atol=0.05)


@pytest.mark.parametrize("options", [dict(solver="sgd", batch_size=7), dict(solver="gd")])
def test_float32_data_are_fitted_in_float32_with_x64_on_too(options):
    """No float64 sneaks into a float32 fit (sgd's batch scale n / count once did under x64)."""
    X, y = synthetic(n=30)
    result = jaxsig.fit(X.astype(np.float32), y.astype(np.float32), epochs=5, **options)
    assert result.history.dtype == result.params.w.dtype == np.float32
