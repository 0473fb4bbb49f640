"""jaxsig.sklearn: scikit-learn's own estimator checks, the optimum against LogisticRegression,
labels of any type, weights, pipelines and model selection, pickling."""

import pickle
import subprocess
import sys
import warnings

import jax
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

import jaxsig
from jaxsig._solvers import _driver
from jaxsig.sklearn import LogisticClassifier


@parametrize_with_checks([LogisticClassifier(), LogisticClassifier(C=np.inf)])
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        if np.isinf(estimator.C):  # the checks' data are separable: no unpenalised optimum
            warnings.simplefilter("ignore", jaxsig.DegenerateDataWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_hyperparameters_are_validated_by_scikit_learn_rules():
    check_param_validation("LogisticClassifier", LogisticClassifier())
    with pytest.raises(ValueError, match="'C' parameter"):
        LogisticClassifier(C=-1.0).fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match="needs solver='fista'"):
        LogisticClassifier(l1_ratio=0.5).fit([[0.0], [1.0]], [0, 1])


def test_import_jaxsig_does_not_import_scikit_learn():
    code = "import sys, jaxsig; sys.exit('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.fixture(scope="module")
def cancer():
    """scikit-learn's bundled breast-cancer data, standardised: 569 rows, 30 features."""
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _flattest_curvature(X, coef, intercept, C):
    """Smallest eigenvalue of the mean objective's Hessian in (w, b) at the given parameters."""
    n = X.shape[0]
    s = 1 / (1 + np.exp(-(X @ coef + intercept)))
    A = np.c_[X, np.ones(n)]
    H = (A * (s * (1 - s) / n)[:, None]).T @ A
    H[:-1, :-1] += np.eye(X.shape[1]) / (C * n)
    return np.linalg.eigvalsh(H)[0]


# Fitting precision follows the data: float64 input fits in float64 even with jax_enable_x64
# off. float32 stops at a float32 gradient of at most 1e-6 (float64's 1e-10 is below float32's
# resolution of the mean gradient on this data).
TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-6}


@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
def test_optimum_is_logistic_regressions(cancer, C, dtype):
    X, y = cancer
    ref = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=100).fit(X, y)
    tol = TOL[np.dtype(dtype)]
    model = LogisticClassifier(C=C, tol=tol).fit(X.astype(dtype), y)
    assert model.coef_.dtype == model.intercept_.dtype == dtype
    # Stopping at a gradient g puts the parameters within about |g|_2 / lambda_min(H) of the
    # optimum, |g|_2 <= sqrt(d + 1) tol: 3e-7 (float64) and 3e-3 (float32) at C=1, 10x that
    # at C=10. float32 adds the rounding of X to 24 bits (relative 6e-8), whose effect is
    # below the bound here (measured distances in float32: 3.5e-6 at C=1, 2.4e-4 at C=10).
    lam = _flattest_curvature(X, ref.coef_[0], ref.intercept_[0], C)
    bound = np.sqrt(X.shape[1] + 1) * tol / lam
    assert bound < 0.04  # the tolerance means something: coefficients are O(1)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=0, atol=bound)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=0, atol=bound)
    np.testing.assert_array_equal(model.predict(X), ref.predict(X))


def _weights(n):
    return np.random.default_rng(0).integers(0, 4, n).astype(float)


@pytest.mark.parametrize(
    "options",
    [
        {"class_weight": "balanced"},
        {"class_weight": {0: 1.0, 1: 3.0}},
        {"fit_intercept": False},
        {"solver": "lbfgs", "max_iter": 1000},
    ],
    ids=["balanced", "class_weight_dict", "no_intercept", "lbfgs"],
)
def test_weights_and_options_match_logistic_regression(cancer, options):
    X, y = cancer
    sw = _weights(len(y))
    ref_options = {k: v for k, v in options.items() if k not in ("solver", "max_iter")}
    ref = LogisticRegression(solver="newton-cholesky", tol=1e-12, **ref_options)
    ref.fit(X, y, sample_weight=sw)
    model = LogisticClassifier(tol=1e-9, **options).fit(X, y, sample_weight=sw)
    # Both stop at gradients below 1e-9, which moves these O(1) parameters by < 1e-6
    # (sqrt(31) 1e-9 / lambda_min, lambda_min about 1e-3 at C = 1 as above).
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=0, atol=1e-6)


def test_elastic_net_matches_saga(cancer):
    X, y = cancer
    ref = LogisticRegression(C=0.5, l1_ratio=0.5, solver="saga", tol=1e-10, max_iter=100_000)
    ref.fit(X, y)
    model = LogisticClassifier(C=0.5, l1_ratio=0.5, solver="fista", tol=1e-10, max_iter=100_000)
    model.fit(X, y)
    assert 0 < np.sum(ref.coef_ == 0) < X.shape[1]  # a sparse solution, not a trivial one
    np.testing.assert_array_equal(model.coef_ == 0, ref.coef_ == 0)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "labels",
    [np.array(["ham", "spam"]), np.array([-1, 1]), np.array([False, True]), np.array([2.0, 7.0])],
    ids=lambda a: a.dtype.name,
)
def test_labels_of_any_type_round_trip(cancer, labels):
    X, y01 = cancer
    y = labels[y01]
    model = LogisticClassifier().fit(X, y)
    np.testing.assert_array_equal(model.classes_, labels)
    assert model.classes_.dtype == labels.dtype
    on_01 = LogisticClassifier().fit(X, y01)
    np.testing.assert_array_equal(model.coef_, on_01.coef_)  # classes_[1] is the positive one
    predicted = model.predict(X)
    assert predicted.dtype == labels.dtype
    np.testing.assert_array_equal(predicted, labels[on_01.predict(X)])
    np.testing.assert_array_equal(model.predict_proba(X), on_01.predict_proba(X))
    assert model.score(X, y) > 0.95


def test_string_labels_are_sorted_into_classes():
    X = np.array([[0.2, 0.8], [0.5, 0.4], [0.9, 0.1], [0.4, 0.6], [0.8, 0.3]])
    y = ["spam", "ham", "spam", "ham", "ham"]
    model = LogisticClassifier(C=100.0).fit(X, y)
    assert model.classes_.tolist() == ["ham", "spam"]
    p = model.predict_proba(X)
    np.testing.assert_array_equal(model.predict(X), np.where(p[:, 1] > 0.5, "spam", "ham"))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
def test_sample_weight_equals_repeated_rows(cancer, dtype):
    X, y = cancer
    X = X.astype(dtype)
    sw = _weights(len(y)).astype(int)
    tol = TOL[np.dtype(dtype)]
    weighted = LogisticClassifier(tol=tol).fit(X, y, sample_weight=sw)
    repeated = LogisticClassifier(tol=tol).fit(X.repeat(sw, axis=0), y.repeat(sw))
    # The same objective summed in another order: rounding apart, the same optimum (measured
    # differences: 5e-15 in float64; 2.5e-6 in float32, where each fit stops at its own float32
    # gradient of at most 1e-6).
    atol = 1e-9 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=0, atol=atol)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=0, atol=atol)


def test_multiclass_one_class_and_weightless_class_are_refused():
    X = np.random.default_rng(0).normal(size=(9, 2))
    with pytest.raises(ValueError, match=r"binary classification.*3 classes \('a', 'b', 'c'\)"):
        LogisticClassifier().fit(X, ["a", "b", "c"] * 3)
    with pytest.raises(ValueError, match=r"one class only \('a'\)"):
        LogisticClassifier().fit(X, np.array(["a"] * 9, dtype=object))
    with pytest.raises(ValueError, match="weights of class 'b' sum to zero"):
        LogisticClassifier().fit(X, ["a", "b", "a"] * 3, sample_weight=[1, 0, 1] * 3)


def test_probability_of_the_negative_class_is_sigmoid_of_minus_z():
    X = np.array([[-1.0], [-0.5], [0.5], [1.0], [-0.1], [0.1]])
    y = np.array([0, 0, 1, 1, 1, 0])
    model = LogisticClassifier().fit(X, y)
    far = np.array([[60.0 / model.coef_[0, 0]]])  # a logit near 60
    z = model.decision_function(far)
    p = model.predict_proba(far)
    # 1 - sigmoid(60) is 0 in float64; sigmoid(-60) = exp(-60) / (1 + exp(-60)) is not.
    np.testing.assert_allclose(p[:, 0], np.exp(-z) / (1 + np.exp(-z)), rtol=1e-14)
    assert p[0, 0] > 0 and p[0, 1] == 1.0
    np.testing.assert_allclose(model.predict_proba(X).sum(1), 1.0, rtol=1e-15)


def test_pipeline_cross_validation_and_grid_search_agree_with_logistic_regression():
    X, y = load_breast_cancer(return_X_y=True)
    ours = make_pipeline(StandardScaler(), LogisticClassifier(tol=1e-10))
    theirs = make_pipeline(
        StandardScaler(), LogisticRegression(solver="newton-cholesky", tol=1e-12)
    )
    scores = cross_val_score(ours, X, y, cv=3, scoring="neg_log_loss")
    np.testing.assert_allclose(
        scores, cross_val_score(theirs, X, y, cv=3, scoring="neg_log_loss"), rtol=1e-6
    )
    grid = {"logisticclassifier__C": [0.01, 0.1, 1.0, 10.0]}
    search = GridSearchCV(ours, grid, cv=3, scoring="neg_log_loss").fit(X, y)
    grid = {"logisticregression__C": grid["logisticclassifier__C"]}
    reference = GridSearchCV(theirs, grid, cv=3, scoring="neg_log_loss").fit(X, y)
    assert (
        search.best_params_["logisticclassifier__C"]
        == reference.best_params_["logisticregression__C"]
    )
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=1e-6
    )
    assert search.score(X, y) > -0.1


def test_pickle_round_trip_keeps_parameters_and_predictions(cancer):
    X, y = cancer
    unfitted = LogisticClassifier(C=0.3, solver="lbfgs", class_weight={0: 2.0, 1: 1.0})
    assert pickle.loads(pickle.dumps(unfitted)).get_params() == unfitted.get_params()
    model = LogisticClassifier(C=0.3).fit(X, np.array(["benign", "malignant"])[y])
    restored = pickle.loads(pickle.dumps(model))
    for method in ("predict", "predict_proba", "decision_function"):
        np.testing.assert_array_equal(getattr(restored, method)(X), getattr(model, method)(X))
    np.testing.assert_array_equal(restored.n_iter_, model.n_iter_)


def test_fitted_attributes_and_dtypes_follow_the_data(cancer):
    X, y = cancer
    x64 = jax.config.jax_enable_x64
    for dtype in (np.float64, np.float32, np.int64):
        model = LogisticClassifier().fit((X * 10).astype(dtype), y)
        floating = np.float32 if dtype == np.float32 else np.float64
        assert model.coef_.shape == (1, X.shape[1]) and model.coef_.dtype == floating
        assert model.intercept_.shape == (1,) and model.intercept_.dtype == floating
        assert model.n_iter_.shape == (1,) and 0 < model.n_iter_[0] <= 100
        assert model.n_features_in_ == X.shape[1]
        assert model.decision_function((X * 10).astype(dtype)).dtype == floating
        assert not hasattr(model, "feature_names_in_")
    assert jax.config.jax_enable_x64 == x64  # float64 fits leave the global flag alone


def test_feature_names_from_a_data_frame(cancer):
    pd = pytest.importorskip("pandas")
    X, y = cancer
    names = [f"f{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names)
    model = LogisticClassifier().fit(frame, y)
    assert model.feature_names_in_.tolist() == names
    with pytest.raises(ValueError, match="feature names"):
        model.predict(frame[names[::-1]])


def test_a_missed_tolerance_warns_with_scikit_learns_warning(cancer):
    X, y = cancer
    with pytest.warns(ConvergenceWarning, match="max_iter=2") as record:
        model = LogisticClassifier(C=100.0, max_iter=2).fit(X, y)
    assert all(not issubclass(w.category, jaxsig.ConvergenceWarning) for w in record)
    assert model.n_iter_[0] == 2


def test_a_new_C_tol_or_weights_do_not_recompile(cancer):
    X, y = cancer
    LogisticClassifier(C=1.0).fit(X, y)
    compiled = _driver.run._cache_size()
    LogisticClassifier(C=5.0, tol=1e-8, class_weight="balanced").fit(
        X, y, sample_weight=_weights(len(y))
    )
    LogisticClassifier(C=0.2, fit_intercept=False).fit(X, y)
    assert _driver.run._cache_size() == compiled


def test_unpenalised_fit_exposes_statsmodels_standard_errors():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.where(rng.uniform(size=200) < 1 / (1 + np.exp(-(X @ [1.0, -1.0, 0.5]))), "b", "a")
    weights = rng.integers(1, 3, 200).astype(float)
    model = LogisticClassifier(C=np.inf, tol=1e-10).fit(X, y, sample_weight=weights)
    res = sm.GLM(
        (y == "b").astype(float),
        sm.add_constant(X),
        family=sm.families.Binomial(),
        freq_weights=weights,
    ).fit(tol=1e-14)
    np.testing.assert_allclose(model.bse_, np.roll(res.bse, -1), rtol=1e-6)
    np.testing.assert_allclose(
        model.cov_, np.roll(np.roll(res.cov_params(), -1, 0), -1, 1), rtol=1e-5
    )
    assert not hasattr(LogisticClassifier().fit(X, y), "bse_")


def test_separated_coefficients_get_infinite_standard_errors():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    y = (rng.uniform(size=60) < 0.5).astype(int)
    X[:, 1] = 0.0
    X[np.nonzero(y)[0][::2], 1] = 1.0  # quasi-complete separation by column 1
    with pytest.warns(jaxsig.PerfectSeparationWarning, match="'x1'"):
        model = LogisticClassifier(C=np.inf).fit(X, y)
    assert np.isinf(model.bse_[1]) and np.all(np.isfinite(model.bse_[[0, 2]]))
