"""A run whose objective or step stops being finite stops there, with the last parameters of
finite objective and a warning naming the epoch (fit) or the points (sweep, cross_validate);
the rest of a sweep is unaffected. Each case returned NaN parameters or a NaN history before."""

import warnings

import jax
import numpy as np
import pytest

import jaxsig

DTYPE = np.float64 if jax.config.jax_enable_x64 else np.float32
# A feature whose square overflows the dtype: the first gradient step sends the logits to inf.
HUGE = 1e30 if DTYPE is np.float32 else 1e200


# A learning rate small enough that the huge feature's steps stay finite.
SAFE_RATE = 1e-40 if DTYPE is np.float32 else 1e-250


def data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + rng.logistic(size=n) > 0).astype(float)
    return X.astype(DTYPE), y.astype(DTYPE)


def huge(X):
    X = X.copy()
    X[:, 1] *= HUGE
    return X


def caught(call):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in seen if w.category is jaxsig.ConvergenceWarning]


OPTIONS = {
    "gd": {},
    "sgd": {"batch_size": 32},
    "fista": {"l1": 0.01},
}


@pytest.mark.parametrize("case", OPTIONS)
def test_a_diverging_fit_stops_with_finite_parameters_and_names_the_epoch(case):
    X, y = data()
    X = huge(X)
    result, messages = caught(lambda: jaxsig.fit(X, y, solver=case, epochs=30, **OPTIONS[case]))
    params = result.params
    assert np.all(np.isfinite(params.w)) and np.isfinite(params.b)
    assert np.isfinite(jaxsig.objective(params, X, y, l2=0.0))
    ran = int(result.iterations)
    assert ran < 30 and not bool(result.converged) and np.isnan(result.gradient_norm)
    history = np.asarray(result.history)
    assert np.all(np.isnan(history[ran:])) and np.all(np.isfinite(history[:ran]))
    assert len(messages) == 1
    assert f"became non-finite (in epoch {ran + 1})" in messages[0]
    assert "the largest |X| entry is" in messages[0] and "in column 1" in messages[0]


def test_a_step_that_diverges_in_the_last_epoch_is_undone():
    """No later epoch evaluates the last step: the run checks its objective at the end."""
    X, y = huge(data()[0]), data()[1]
    result, messages = caught(lambda: jaxsig.fit(X, y, solver="gd", epochs=1))
    np.testing.assert_array_equal(result.params.w, np.zeros(3))
    assert np.isfinite(jaxsig.objective(result.params, X, y, l2=0.0))
    assert np.isnan(result.gradient_norm) and len(messages) == 1


def test_with_a_tolerance_divergence_is_reported_once_not_as_a_missed_tolerance():
    X, y = huge(data()[0]), data()[1]
    _, messages = caught(lambda: jaxsig.fit(X, y, solver="gd", epochs=30, tol=1e-6))
    assert len(messages) == 1 and "became non-finite" in messages[0]


def test_a_diverged_state_resumes_to_the_same_stop():
    X, y = huge(data()[0]), data()[1]
    first, _ = caught(lambda: jaxsig.fit(X, y, solver="gd", epochs=10))
    again, messages = caught(lambda: jaxsig.fit(X, y, solver="gd", epochs=10, resume=first.state))
    np.testing.assert_array_equal(again.params.w, first.params.w)
    assert int(again.iterations) == int(first.iterations) and len(messages) == 1


def test_sweep_points_that_diverge_are_named_and_the_others_are_separate_fits():
    X, y = data()
    X = huge(X)
    rates = np.array([SAFE_RATE, 0.1])
    result, messages = caught(
        lambda: jaxsig.sweep(X, y, solver="gd", epochs=20, learning_rate=rates, l2=[0.0, 1.0])
    )
    stopped = np.isnan(np.asarray(result.gradient_norm))
    np.testing.assert_array_equal(stopped, [False, False, True, True])
    assert not np.any(np.asarray(result.converged)[stopped])
    assert np.all(np.isfinite(np.asarray(result.params.w)))
    assert len(messages) == 1
    assert "point 2 (learning_rate=0.1, l2=0) in epoch 2" in messages[0]
    assert "point 3 (learning_rate=0.1, l2=1) in epoch 2" in messages[0]
    alone = jaxsig.fit(X, y, solver="gd", epochs=20, learning_rate=rates[0], l2=1.0)
    np.testing.assert_allclose(result.params.w[1], alone.params.w, rtol=1e-6)


def test_cross_validate_marks_diverged_points_and_never_picks_them():
    X, y = data()
    X = huge(X)
    cv, messages = caught(
        lambda: jaxsig.cross_validate(
            X,
            y,
            key=0,
            n_folds=3,
            solver="gd",
            epochs=10,
            learning_rate=[SAFE_RATE, 0.1],
            l2=0.0,
            grid=False,
        )
    )
    np.testing.assert_array_equal(cv.diverged, [False, True])
    assert cv.best_index == 0 and len(messages) == 1
