"""Early stopping on held-out rows: the curve, the rule, the best parameters, each output and
sweep point stopping at its own best inside one compiled call."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import X64

import jaxsig

DTYPE = np.float64 if X64 else np.float32
# gd with a large step on few, noisy rows: the held-out loss falls, then rises as it overfits.
OPTIONS = dict(solver="gd", learning_rate=4.0, epochs=3000)


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 12))
    y = (X[:, 0] + 1.5 * rng.normal(size=80) > 0).astype(float)
    return X.astype(DTYPE), y.astype(DTYPE)


def held_out_mask():
    return (np.arange(80) % 4 == 0).astype(DTYPE)


def split():
    X, y = data()
    held = held_out_mask() > 0
    return X[~held], y[~held], X[held], y[held]


def stopping_rule(curve, patience, min_delta):
    """The rule on a curve, in NumPy: (best epoch, epochs run)."""
    best, best_epoch, stale = np.inf, 0, 0
    for epoch, loss in enumerate(curve):
        if loss < best - min_delta:
            best, best_epoch, stale = loss, epoch, 0
        else:
            stale += 1
        if stale >= patience:
            return best_epoch, epoch + 1
    return best_epoch, len(curve)


def test_the_curve_is_the_held_out_loss_of_each_epochs_parameters():
    X_train, y_train, X_val, y_val = split()
    result = jaxsig.fit(X_train, y_train, validation=(X_val, y_val), patience=10**6, **OPTIONS)
    for epoch in (0, 1, 7, 40):
        if epoch == 0:
            params = jaxsig.init(12, dtype=DTYPE)
        else:
            params = jaxsig.fit(X_train, y_train, **{**OPTIONS, "epochs": epoch}).params
        expected = jaxsig.held_out_loss(X_val, y_val)(params)
        np.testing.assert_allclose(result.validation_history[epoch], expected, rtol=1e-5)


@pytest.mark.parametrize(("patience", "min_delta"), [(5, 0.0), (30, 0.0), (10, 1e-3)])
def test_the_rule_and_the_best_parameters(patience, min_delta):
    X_train, y_train, X_val, y_val = split()
    validation = (X_val, y_val)
    full = jaxsig.fit(X_train, y_train, validation=validation, patience=10**6, **OPTIONS)
    best_epoch, ran = stopping_rule(np.asarray(full.validation_history), patience, min_delta)
    assert ran < OPTIONS["epochs"], "the test needs a curve that turns up"
    stopped = jaxsig.fit(
        X_train, y_train, validation=validation, patience=patience, min_delta=min_delta, **OPTIONS
    )
    assert int(stopped.best_epoch) == best_epoch
    assert int(stopped.iterations) == ran
    assert np.isnan(stopped.history[ran]) and not np.isnan(stopped.history[ran - 1])
    at_best = jaxsig.fit(X_train, y_train, **{**OPTIONS, "epochs": best_epoch}).params
    np.testing.assert_allclose(stopped.params.w, at_best.w, rtol=1e-6, atol=1e-7)


def test_a_mask_holds_rows_out_as_a_separate_set_does():
    X, y = data()
    X_train, y_train, X_val, y_val = split()
    by_mask = jaxsig.fit(X, y, validation=held_out_mask(), patience=20, **OPTIONS)
    by_set = jaxsig.fit(X_train, y_train, validation=(X_val, y_val), patience=20, **OPTIONS)
    assert int(by_mask.best_epoch) == int(by_set.best_epoch)
    np.testing.assert_allclose(by_mask.params.w, by_set.params.w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        by_mask.validation_history, by_set.validation_history, rtol=1e-4, equal_nan=True
    )


def test_vmap_stops_each_point_at_its_own_best():
    X_train, y_train, X_val, y_val = split()
    rates = jnp.asarray([1.0, 4.0, 8.0], DTYPE)

    def stopped(rate):
        options = {**OPTIONS, "learning_rate": rate}
        result = jaxsig.fit(X_train, y_train, validation=(X_val, y_val), patience=15, **options)
        return result.best_epoch, result.iterations, result.params.w

    swept = jax.jit(jax.vmap(stopped))(rates)
    looped = [stopped(rate) for rate in rates]
    assert len(set(np.asarray(swept[0]).tolist())) == 3
    for i, (best, ran, w) in enumerate(looped):
        assert int(swept[0][i]) == int(best) and int(swept[1][i]) == int(ran)
        np.testing.assert_allclose(swept[2][i], w, rtol=1e-5, atol=1e-6)


def test_each_output_column_stops_at_its_own_best():
    X_train, y_train, X_val, y_val = split()
    rng = np.random.default_rng(1)
    flip = rng.uniform(size=y_train.shape) < 0.3
    Y = np.stack([y_train, np.where(flip, 1 - y_train, y_train)], axis=1).astype(DTYPE)
    Y_val = np.stack([y_val, y_val], axis=1)
    joint = jaxsig.fit(X_train, Y, validation=(X_val, Y_val), patience=15, **OPTIONS)
    assert joint.best_epoch.shape == (2,) and joint.validation_history.shape == (3000, 2)
    for j in range(2):
        single = jaxsig.fit(
            X_train, Y[:, j], validation=(X_val, Y_val[:, j]), patience=15, **OPTIONS
        )
        assert int(joint.best_epoch[j]) == int(single.best_epoch)
        np.testing.assert_allclose(joint.params.w[:, j], single.params.w, rtol=1e-5, atol=1e-6)


def test_sweep_points_stop_at_their_own_best():
    X, y = data()
    mask = held_out_mask()
    l2s = [0.0, 1e-3, 3e-2]
    swept = jaxsig.sweep(X, y, l2=l2s, validation=mask, patience=15, **OPTIONS)
    for i, l2 in enumerate(l2s):
        single = jaxsig.fit(X, y, l2=l2, validation=mask, patience=15, **OPTIONS)
        assert int(swept.best_epoch[i]) == int(single.best_epoch)
        assert int(swept.iterations[i]) == int(single.iterations)
        np.testing.assert_allclose(swept.params.w[i], single.params.w, rtol=1e-5, atol=1e-6)


def test_tolerance_and_patience_together():
    """Newton converges long before patience runs out: the tolerance stops it, and the best
    held-out parameters are returned (here, those of the final epoch)."""
    X_train, y_train, X_val, y_val = split()
    result = jaxsig.fit(
        X_train, y_train, solver="newton", l2=0.1, tol=1e-6, validation=(X_val, y_val)
    )
    assert bool(result.converged) and int(result.iterations) < 20


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (dict(patience=0), "patience must be a positive int"),
        (dict(min_delta=-1.0), "min_delta must be finite and >= 0"),
        (dict(validation=np.zeros(80)), "validation sums to zero: no row would count"),
        (dict(validation=np.ones(80)), "validation holds out every row"),
        (dict(validation=np.ones(7)), r"validation must have shape \(80,\)"),
        (dict(validation=(np.ones((5, 3)), np.ones(5))), "validation X has 3 features"),
        (dict(validation=(np.ones((5, 12)),)), r"validation must be \(X, y\)"),
    ],
)
def test_bad_validation_is_refused(options, match):
    X, y = data()
    options = {"validation": held_out_mask(), **options}
    with pytest.raises(ValueError, match=match):
        jaxsig.fit(X, y, **options)
