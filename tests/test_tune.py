"""Tuning l2 by gradient: the cross-validated loss it reports, the hypergradient it follows, and
a loss at least as low as a grid's with fewer fits."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import X64

import jaxsig

DTYPE = np.float64 if X64 else np.float32


@functools.cache
def data():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(240, 8))
    truth = np.array([2.0, -1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0])
    y = (X @ truth + rng.normal(size=240) > 0).astype(float)
    return X.astype(DTYPE), y.astype(DTYPE)


def folds(key, y, k=5):
    return np.asarray(jaxsig.stratified_kfold(jax.random.key(key), y, k))


def cross_validated(X, y, l2, fold_ids, k=5):
    """The mean held-out log-loss of k eager fits (exact loss), by hand."""
    losses = []
    for j in range(k):
        train, held = fold_ids != j, fold_ids == j
        tol = 1e-10 if X64 else 1e-5
        params = jaxsig.fit(X[train], y[train], solver="newton", l2=l2, tol=tol, epochs=100)
        losses.append(float(jaxsig.held_out_loss(X[held], y[held])(params.params)))
    return np.mean(losses)


def test_the_reported_losses_are_the_cross_validated_ones():
    X, y = data()
    tuned = jaxsig.tune_l2(X, y, key=0, steps=3, refit=False)
    fold_ids = folds(0, y)
    for l2, loss in zip(tuned.l2_history, tuned.loss_history, strict=True):
        expected = cross_validated(X, y, np.asarray(l2), fold_ids)
        np.testing.assert_allclose(loss, expected, rtol=1e-9 if X64 else 1e-4)


@pytest.mark.skipif(not X64, reason="finite differences of fits need float64")
def test_the_first_step_follows_the_hypergradient():
    """Adam's first step is -learning_rate * sign(gradient): its direction is that of the
    finite-difference derivative of the cross-validated loss in log(l2)."""
    X, y = data()
    fold_ids = folds(0, y)
    h = 1e-4
    up, down = (cross_validated(X, y, np.exp(np.log(1e-2) + s * h), fold_ids) for s in (1, -1))
    numeric = (up - down) / (2 * h)
    tuned = jaxsig.tune_l2(X, y, key=0, l2=1e-2, steps=1, learning_rate=0.1, refit=False)
    step = np.log(tuned.l2_history[1]) - np.log(tuned.l2_history[0])
    np.testing.assert_allclose(step, -0.1 * np.sign(numeric), rtol=1e-6)


def test_at_least_as_low_as_the_grid_with_fewer_fits():
    X, y = data()
    grid = np.geomspace(1e-4, 1.0, 24)
    cv = jaxsig.cross_validate(
        X, y, key=jax.random.key(0), n_folds=5, solver="newton", l2=grid, tol=1e-6, epochs=100
    )
    grid_fits = grid.size * 5
    tuned = jaxsig.tune_l2(X, y, key=0, steps=15)
    assert tuned.fits < grid_fits
    assert float(tuned.loss) <= float(np.min(cv.mean["log_loss"])) + 1e-6
    per_feature = jaxsig.tune_l2(X, y, key=0, steps=15, per_feature=True)
    assert per_feature.l2.shape == (8,) and per_feature.fits < grid_fits
    assert float(per_feature.loss) <= float(tuned.loss)
    refit = jaxsig.fit(X, y, solver="newton", l2=tuned.l2, tol=1e-9 if X64 else 1e-5)
    np.testing.assert_allclose(tuned.refit.params.w, refit.params.w, rtol=1e-5, atol=1e-6)


def test_bounds_hold():
    X, y = data()
    tuned = jaxsig.tune_l2(X, y, key=0, l2=1e-3, steps=8, learning_rate=2.0, bounds=(1e-4, 1e-2))
    history = np.asarray(tuned.l2_history)
    assert np.all(history >= 1e-4 * (1 - 1e-5)) and np.all(history <= 1e-2 * (1 + 1e-5))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (dict(steps=0), "steps must be a positive int"),
        (dict(bounds=(1.0, 0.1)), "bounds must satisfy"),
        (dict(l2=10.0, bounds=(1e-3, 1.0)), "l2 must lie within bounds"),
        (dict(learning_rate=-1.0), "learning_rate must be finite and > 0"),
        (dict(l2=np.ones(3)), r"l2 must be a scalar or shape \(8,\)"),
    ],
)
def test_bad_options_are_refused(options, match):
    X, y = data()
    with pytest.raises(ValueError, match=match):
        jaxsig.tune_l2(X, y, key=0, **options)


def test_tune_refuses_traced_data():
    X, y = data()
    with pytest.raises(ValueError, match="tune_l2 makes its folds"):
        jax.jit(lambda y: jaxsig.tune_l2(X, y, key=0, steps=1).l2)(jnp.asarray(y))
