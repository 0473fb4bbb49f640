"""Sweeps, folds, cross-validation and regularisation paths against loops of single fits."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from support import FULL_DTYPES, dtype_param

import jaxsig
from jaxsig import _sweep

# A sweep point and a single fit run the same iterations; only the batched products' summation
# order differs. Each fixed-step or tolerance-stopped run then agrees to a few hundred ulps of
# the parameters' scale (measured: 1e-6 in float32, 1e-13 in float64).
PARAMS_ATOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-10}
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


@functools.cache
def data(dtype, n=240, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ rng.normal(size=d) + 0.3)))).astype(float)
    return X.astype(dtype), y.astype(dtype)


def assert_params_close(sweep_params, index, fitted, dtype):
    atol = PARAMS_ATOL[np.dtype(dtype)]
    np.testing.assert_allclose(sweep_params.w[index], fitted.w, atol=atol)
    np.testing.assert_allclose(sweep_params.b[index], fitted.b, atol=atol)


SWEEPS = {
    "newton l2": (dict(solver="newton", epochs=50, tol="tol"), dict(l2=[1e-3, 1e-2, 1.0])),
    "gd learning rate": (dict(solver="gd", epochs=200), dict(learning_rate=[0.01, 0.1, 1.0])),
    "fista l1": (dict(solver="fista", epochs=300, l2=1e-3), dict(l1=[0.0, 0.01, 0.05])),
    "sgd seed": (dict(solver="sgd", epochs=5, batch_size=32, learning_rate=0.1), dict(seed=[0, 7])),
}


@pytest.mark.parametrize("key", [None, 0, 3])
def test_cross_validate_takes_the_keys_fit_takes(key):
    X, y = data(np.float64 if jax.config.jax_enable_x64 else np.float32, n=60, d=3)
    options = dict(n_folds=3, solver="newton", l2=[1e-2, 1.0], tol=1e-5)
    cv = jaxsig.cross_validate(X, y, key=key, **options)
    typed = jaxsig.cross_validate(X, y, key=jax.random.key(0 if key is None else key), **options)
    np.testing.assert_array_equal(cv.mean["log_loss"], typed.mean["log_loss"])


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("name", SWEEPS)
def test_sweep_equals_a_loop_of_fits(name, dtype):
    X, y = data(dtype)
    fixed, swept = SWEEPS[name]
    fixed = {k: (TOL[np.dtype(dtype)] if v == "tol" else v) for k, v in fixed.items()}
    result = jaxsig.sweep(X, y, **fixed, **swept)
    ((axis, values),) = swept.items()
    assert list(result.points[axis]) == values
    for i, value in enumerate(values):
        single = dict(fixed, **({"key": value} if axis == "seed" else {axis: value}))
        fitted = jaxsig.fit(X, y, **single)
        assert_params_close(result.params, i, fitted.params, dtype)
        np.testing.assert_array_equal(result.iterations[i], fitted.iterations)


def test_plain_vmap_of_fit_works_and_equals_the_sweep():
    X, y = data(np.float32)
    l2 = jnp.array([1e-3, 1e-1])
    vmapped = jax.vmap(lambda a: jaxsig.fit(X, y, solver="newton", l2=a, tol=1e-5).params)(l2)
    swept = jaxsig.sweep(X, y, solver="newton", l2=l2, tol=1e-5)
    np.testing.assert_allclose(vmapped.w, swept.params.w, atol=2e-5)


def test_a_sweep_compiles_once_for_new_values():
    X, y = data(np.float32)
    jaxsig.sweep(X, y, solver="newton", l2=[0.1, 0.2, 0.3], tol=1e-5)
    before = _sweep._run._cache_size()
    jaxsig.sweep(X, y, solver="newton", l2=[1.0, 2.0, 3.0], tol=1e-4)
    jaxsig.sweep(X, y, solver="newton", l2=[1.0, 2.0], threshold=[0.3, 0.7], tol=1e-4, grid=False)
    assert _sweep._run._cache_size() == before


def test_grid_and_zip_points():
    X, y = data(np.float32)
    grid = jaxsig.sweep(X, y, epochs=3, learning_rate=[0.1, 0.2], l2=[0.0, 1.0, 2.0])
    assert grid.points["learning_rate"].tolist() == [0.1] * 3 + [0.2] * 3
    assert grid.points["l2"].tolist() == [0.0, 1.0, 2.0] * 2
    assert grid.params.w.shape == (6, 5) and grid.history.shape == (6, 3)
    zipped = jaxsig.sweep(X, y, epochs=3, learning_rate=[0.1, 0.2], l2=[0.0, 1.0], grid=False)
    assert zipped.points["l2"].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="one length"):
        jaxsig.sweep(X, y, epochs=3, learning_rate=[0.1, 0.2], l2=[0.0, 1.0, 2.0], grid=False)


def test_thresholds_change_only_the_accuracy():
    X, y = data(np.float32)
    result = jaxsig.sweep(X, y, solver="newton", tol=1e-5, threshold=[0.0, 0.5, 1.0])
    np.testing.assert_array_equal(result.params.w[0], result.params.w[2])
    assert result.metrics["accuracy"][0] == pytest.approx(np.mean(y))  # everything positive
    assert result.metrics["accuracy"][2] == pytest.approx(1 - np.mean(y))  # nothing positive


@dtype_param(FULL_DTYPES)
def test_a_fold_equals_fitting_its_training_rows_and_scoring_the_rest(dtype):
    X, y = data(dtype)
    folds = np.asarray(jaxsig.kfold(jax.random.key(3), len(y), 4))
    tol = TOL[np.dtype(dtype)]
    result = jaxsig.sweep(X, y, solver="newton", l2=[1e-2, 1.0], folds=folds, tol=tol)
    assert result.points["fold"].tolist() == [0, 1, 2, 3] * 2
    for i, (l2, fold) in enumerate(zip(result.points["l2"], result.points["fold"], strict=True)):
        train, held = folds != fold, folds == fold
        fitted = jaxsig.fit(X[train], y[train], solver="newton", l2=l2, tol=tol).params
        assert_params_close(result.params, i, fitted, dtype)
        p = np.asarray(jax.nn.sigmoid(X[held] @ fitted.w + fitted.b), np.float64)
        assert result.metrics["log_loss"][i] == pytest.approx(log_loss(y[held], p), rel=1e-4)
        assert result.metrics["accuracy"][i] == pytest.approx(accuracy_score(y[held], p > 0.5))


def test_kfold_partitions_rows_by_key():
    folds = np.asarray(jaxsig.kfold(jax.random.key(0), 103, 5))
    assert sorted(np.bincount(folds)) == [20, 20, 21, 21, 21]
    assert not np.array_equal(folds, np.asarray(jaxsig.kfold(jax.random.key(1), 103, 5)))
    np.testing.assert_array_equal(folds, jaxsig.kfold(jax.random.key(0), 103, 5))


def test_stratified_kfold_keeps_the_class_balance():
    y = np.r_[np.ones(30), np.zeros(70)]
    folds = np.asarray(jaxsig.stratified_kfold(jax.random.key(0), y, 5))
    for j in range(5):
        assert (y[folds == j] == 1).sum() == 6 and (y[folds == j] == 0).sum() == 14
    with pytest.raises(ValueError, match="smaller class has 3"):
        jaxsig.stratified_kfold(jax.random.key(0), np.r_[np.ones(3), np.zeros(30)], 5)


def test_cross_validate_picks_the_best_mean_and_refits():
    X, y = data(np.float64 if jax.config.jax_enable_x64 else np.float32, n=300, d=8)
    key = jax.random.key(1)
    l2 = [1e-4, 1e-2, 1.0, 10.0]
    cv = jaxsig.cross_validate(X, y, key=key, n_folds=3, solver="newton", l2=l2, tol=1e-5)
    folds = np.asarray(jaxsig.stratified_kfold(key, y, 3))
    by_hand = []
    for value in l2:
        losses = []
        for j in range(3):
            fitted = jaxsig.fit(X[folds != j], y[folds != j], solver="newton", l2=value, tol=1e-5)
            p = np.asarray(jaxsig.predict_proba(fitted.params, X[folds == j]), np.float64)
            losses.append(log_loss(y[folds == j], p))
        by_hand.append(np.mean(losses))
    np.testing.assert_allclose(cv.mean["log_loss"], by_hand, rtol=1e-4)
    assert cv.best_index == int(np.argmin(by_hand)) and cv.best["l2"] == l2[cv.best_index]
    refit = jaxsig.fit(X, y, solver="newton", l2=cv.best["l2"], tol=1e-5)
    np.testing.assert_allclose(cv.refit.params.w, refit.params.w, atol=1e-6)


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_path_equals_independent_fits_in_the_given_order(solver, dtype):
    X, y = data(dtype)
    l2 = [1e-2, 1.0, 1e-4, 1e-1]
    tol = TOL[np.dtype(dtype)]
    result = jaxsig.path(X, y, l2, solver=solver, tol=tol)
    assert result.converged.all() and result.l2.tolist() == pytest.approx(l2)
    for i, value in enumerate(l2):
        fitted = jaxsig.fit(X, y, solver=solver, l2=value, tol=tol, epochs=100).params
        # Both stop at gradient <= tol from different starts: the optimum, up to tol / l2-ish.
        np.testing.assert_allclose(result.params.w[i], fitted.w, atol=50 * tol / min(1.0, value))


def test_path_matches_sklearn_warm_start_and_warns_when_short():
    X, y = data(np.float64 if jax.config.jax_enable_x64 else np.float32)
    n = len(y)
    Cs = [0.01, 1.0, 100.0]
    result = jaxsig.path(X, y, [1 / (C * n) for C in Cs], tol=1e-6)
    for i, C in enumerate(Cs):
        model = LogisticRegression(C=C, tol=1e-8, solver="newton-cholesky")
        model.fit(X.astype(np.float64), y)
        np.testing.assert_allclose(result.params.w[i], model.coef_[0], rtol=2e-3, atol=2e-4)
    with pytest.warns(jaxsig.ConvergenceWarning, match="did not reach"):
        jaxsig.path(X, y, [1e-3, 1e-6], solver="lbfgs", tol=1e-12, epochs=2)


def test_sweep_memory_grows_by_points_not_by_copies_of_x():
    """XLA's own accounting of the compiled sweep: its scratch memory per extra point stays a
    small fraction of X (row vectors and one 1024-row Hessian block), never a copy of X."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16384, 64)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    for solver, options in (("newton", dict(tol=1e-5, epochs=10)), ("gd", dict(epochs=10))):
        scratch = []
        for size in (2, 10):
            captured = {}
            original = _sweep._run

            def spy(*args, original=original, captured=captured, **kwargs):
                compiled = original.lower(*args, **kwargs).compile()
                captured["bytes"] = compiled.memory_analysis().temp_size_in_bytes
                return original(*args, **kwargs)

            _sweep._run = spy
            try:
                jaxsig.sweep(X, y, solver=solver, l2=np.linspace(0.1, 1, size), **options)
            finally:
                _sweep._run = original
            scratch.append(captured["bytes"])
        per_point = (scratch[1] - scratch[0]) / 8
        assert per_point < 0.25 * X.nbytes, (solver, per_point / X.nbytes)


BAD_SWEEPS = [
    (dict(l2=[0.1, np.nan]), "l2 has a NaN or infinite value at index 1"),
    (dict(l2=[0.1, -1.0]), "l2 must be >= 0; index 1 is -1"),
    (dict(learning_rate=[0.0]), "learning_rate must be > 0"),
    (dict(threshold=[0.5, 1.5]), "threshold must be >= 0 and <= 1"),
    (dict(seed=[0.5]), "seed values must be integers"),
    (dict(l2=[[0.1]]), "scalar or a non-empty 1-D"),
    (dict(folds=np.zeros(10, int)), r"folds must be integer fold numbers of shape \(240,\)"),
    (dict(folds=np.zeros(240, int)), "number the folds 0 .. k-1"),
    (dict(folds=np.r_[np.zeros(120, int), np.full(120, 2)]), "number the folds"),
]


@pytest.mark.parametrize(("options", "message"), BAD_SWEEPS)
def test_bad_sweeps_fail_before_compiling(options, message):
    X, y = data(np.float32)
    before = _sweep._run._cache_size()
    with pytest.raises(ValueError, match=message):
        jaxsig.sweep(X, y, **options)
    assert _sweep._run._cache_size() == before


def test_fold_whose_training_rows_hold_one_class_is_refused():
    X, y = data(np.float32)
    folds = (y == 1).astype(int)  # fold 1 trains on class 0 only
    with pytest.raises(ValueError, match="training rows of fold 0 hold one class only"):
        jaxsig.sweep(X, y, folds=folds)


def test_a_diverged_point_is_never_the_best():
    from jaxsig._cv import best_point

    assert best_point(np.array([np.nan, 0.3, 0.2, 0.2]), "log_loss") == 2
    assert best_point(np.array([np.nan, 0.7, 0.9, 0.9]), "accuracy") == 2
    assert best_point(np.array([np.nan, np.nan]), "log_loss") == 0


def test_cross_validate_summarises_huge_losses_without_overflow():
    """A step of 1e38 sends the loss to about 1e37, whose square overflows float32."""
    X, y = data(np.float32, n=60, d=3)
    cv = jaxsig.cross_validate(
        X,
        y,
        key=jax.random.key(0),
        n_folds=3,
        solver="gd",
        learning_rate=[1e38, 0.5],
        epochs=50,
        refit=False,
    )
    assert cv.best_index == 1 and np.isfinite(np.asarray(cv.std["log_loss"])).all()
    assert cv.mean["log_loss"].dtype == np.float32
