"""The influence of training rows: the derivative of a held-out loss or a prediction with
respect to each row's weight, against the formula by hand, finite differences and
leave-one-out refits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import X64

import jaxsig

DTYPE = np.float64 if X64 else np.float32
TOL = 1e-12 if X64 else 1e-6


def data(n=200, d=3, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=d)
    X = rng.normal(size=(n, d))
    y = (X @ truth + rng.normal(size=n) > 0).astype(float)
    X_eval = rng.normal(size=(300, d))
    y_eval = (X_eval @ truth + rng.normal(size=300) > 0).astype(float)
    return tuple(a.astype(DTYPE) for a in (X, y, X_eval, y_eval))


def fitted(X, y, l2, v=None):
    return jaxsig.fit(X, y, solver="newton", l2=l2, tol=TOL, epochs=100, sample_weight=v).params


def by_hand(params, X, y, v, l2, outer):
    """``-grad(of)^T J^{-1} (g_i - sum_j u_j g_j) / V`` in float64, ``g_i`` row i's loss
    gradient in (w, b), ``u = v / V``."""
    X, y, v = (np.asarray(a, np.float64) for a in (X, y, v))
    w, b = np.asarray(params.w, np.float64), float(params.b)
    A = np.hstack([X, np.ones((len(y), 1))])
    s = 1 / (1 + np.exp(-(A @ np.append(w, b))))
    total = v.sum()
    u = v / total
    rows = A * (s - y)[:, None]
    H = A.T @ (A * (u * s * (1 - s))[:, None]) + np.diag(np.append(np.full(w.size, l2), 0.0))
    direction = np.linalg.solve(H, outer)
    return -((rows - u @ rows) @ direction) / total


def test_held_out_loss_influence_is_the_formula():
    X, y, X_eval, y_eval = data()
    v = np.linspace(0.5, 1.5, len(y)).astype(DTYPE)
    params = fitted(X, y, 0.05, v)
    influence = jaxsig.influence(params, X, y, (X_eval, y_eval), l2=0.05, sample_weight=v)
    g = jaxsig.gradient(params, X_eval, y_eval)
    expected = by_hand(params, X, y, v, 0.05, np.append(np.asarray(g.w, np.float64), float(g.b)))
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(influence, expected, rtol=0, atol=(1e-9 if X64 else 1e-4) * scale)


def test_a_prediction_as_the_target():
    X, y, X_eval, _ = data()
    params = fitted(X, y, 0.05)
    point = X_eval[:1]
    influence = jaxsig.influence(params, X, y, lambda p: jaxsig.logits(p, point)[0], l2=0.05)
    outer = np.append(np.asarray(point[0], np.float64), 1.0)  # d logit / d (w, b)
    expected = by_hand(params, X, y, np.ones(len(y)), 0.05, outer)
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(influence, expected, rtol=0, atol=(1e-9 if X64 else 1e-4) * scale)


@pytest.mark.skipif(not X64, reason="finite differences of fits need float64")
def test_finite_differences_of_a_row_weight():
    X, y, X_eval, y_eval = data()
    target = jaxsig.held_out_loss(X_eval, y_eval)
    params = fitted(X, y, 0.05)
    influence = jaxsig.influence(params, X, y, (X_eval, y_eval), l2=0.05)
    for i in (0, 17, 150):
        bump = np.zeros(len(y))
        bump[i] = 1e-4
        up, down = (float(target(fitted(X, y, 0.05, 1 + s * bump))) for s in (1, -1))
        np.testing.assert_allclose(influence[i], (up - down) / 2e-4, rtol=1e-6)


@pytest.mark.skipif(not X64, reason="leave-one-out differences need float64")
def test_leave_one_out_refits_of_the_most_influential_rows():
    """Removing row i moves the held-out loss by -influence[i] to first order: the error is of
    the order of the row's leverage, about 1/n. Measured here, the largest over the 20 rows:
    6.6% at 500 rows, 0.29% at 10,000, 0.17% at 20,000, 0.31% at 30,000 (another draw of
    outlying rows) and 0.069% at 40,000: within 1e-3 takes some 40,000 rows."""
    X, y, X_eval, y_eval = data(n=40_000, d=2)
    target = jaxsig.held_out_loss(X_eval, y_eval)
    params = fitted(X, y, 1e-3)
    base = float(target(params))
    influence = np.asarray(jaxsig.influence(params, X, y, (X_eval, y_eval), l2=1e-3))
    for i in np.argsort(-np.abs(influence))[:20]:
        weights = np.ones(len(y))
        weights[i] = 0.0
        change = float(target(fitted(X, y, 1e-3, weights))) - base
        np.testing.assert_allclose(-influence[i], change, rtol=1e-3)


def sklearn_change(X, y, X_eval, y_eval, l2, row):
    """The held-out loss after refitting without ``row``, minus before: scikit-learn's
    newton-cholesky in float64 (C = 1 / (l2 * rows))."""
    from sklearn.linear_model import LogisticRegression

    X, y, X_eval, y_eval = (np.asarray(a, np.float64) for a in (X, y, X_eval, y_eval))

    def held_out(keep):
        model = LogisticRegression(C=1 / (l2 * keep.sum()), solver="newton-cholesky", tol=1e-13)
        model.fit(X[keep], y[keep])
        z = X_eval @ model.coef_[0] + model.intercept_[0]
        return np.mean(np.logaddexp(0, z) - y_eval * z)

    keep = np.ones(len(y), bool)
    base = held_out(keep)
    keep[row] = False
    return held_out(keep) - base


def test_leave_one_out_equals_refits_of_the_most_influential_rows():
    """On 200 rows the first-order `influence` is 2% to 30% off the leave-one-out change (the
    leverage is large); `leave_one_out` is the change itself: within 1e-9 of scikit-learn's
    refits in float64 (its tolerance), 1e-3 in float32 (the change is ~1e-3 of the loss, which
    float32 holds to ~1e-7, so ~1e-4 relative)."""
    X, y, X_eval, y_eval = data()
    params = fitted(X, y, 1e-3)
    influence = np.asarray(jaxsig.influence(params, X, y, (X_eval, y_eval), l2=1e-3))
    top = np.argsort(-np.abs(influence))[:20]
    exact = jaxsig.leave_one_out(params, X, y, (X_eval, y_eval), top, l2=1e-3)
    reference = [sklearn_change(X, y, X_eval, y_eval, 1e-3, i) for i in top]
    np.testing.assert_allclose(exact, reference, rtol=1e-9 if X64 else 1e-3)
    first_order = np.abs(-influence[top] - reference) / np.abs(reference)
    assert np.max(first_order) > 0.1  # what leave_one_out is for


def test_leave_one_out_inside_jit_and_vmap_and_with_weights():
    X, y, X_eval, y_eval = data(n=60)
    v = np.random.default_rng(1).uniform(0.5, 2.0, len(y)).astype(DTYPE)
    params = fitted(X, y, 0.05, v)
    target = jaxsig.held_out_loss(X_eval, y_eval)
    rows = np.array([3, 17, -1])
    plain = jaxsig.leave_one_out(params, X, y, target, rows, l2=0.05, sample_weight=v)
    for i, row in enumerate(rows):
        removed = v.copy()
        removed[row] = 0
        change = float(target(fitted(X, y, 0.05, removed))) - float(target(params))
        np.testing.assert_allclose(plain[i], change, rtol=1e-9 if X64 else 2e-3)
    X_device, y_device, v_device = (jnp.asarray(a) for a in (X, y, v))  # closed over
    jitted = jax.jit(
        lambda r: jaxsig.leave_one_out(
            params, X_device, y_device, target, r, l2=0.05, sample_weight=v_device, batch_size=2
        )
    )(jnp.asarray(rows))
    np.testing.assert_allclose(jitted, plain, rtol=1e-6 if X64 else 1e-3)
    points = jnp.asarray(X_eval[:2])
    per_point = jax.vmap(
        lambda x: jaxsig.leave_one_out(
            params, X, y, lambda p: jaxsig.logits(p, x[None])[0], rows, l2=0.05, sample_weight=v
        )
    )(points)
    assert per_point.shape == (2, 3) and np.all(np.isfinite(per_point))


@pytest.mark.skipif(not X64, reason="finite differences of refits need float64")
def test_leave_one_out_differentiates_as_its_refits():
    X, y, X_eval, y_eval = data(n=60)
    target = jaxsig.held_out_loss(X_eval, y_eval)

    def by_refits(l2):
        removed = np.ones(len(y))
        removed[7] = 0
        return float(target(fitted(X, y, l2, removed))) - float(target(fitted(X, y, l2)))

    params = fitted(X, y, 0.05)
    slope = jax.grad(
        lambda l2: jaxsig.leave_one_out(params, X, y, target, np.array([7]), l2=l2)[0]
    )(0.05)
    np.testing.assert_allclose(
        slope, (by_refits(0.05 + 1e-5) - by_refits(0.05 - 1e-5)) / 2e-5, rtol=1e-5
    )


def test_leave_one_out_of_several_outputs_is_each_columns():
    X, y, X_eval, _ = data(n=80)
    Y = np.stack([y, (X[:, 0] + X[:, 1] > 0.3).astype(DTYPE)], axis=1)
    params = jaxsig.fit(X, Y, solver="newton", l2=0.1, tol=TOL, epochs=100).params
    point = jnp.asarray(X_eval[:1])
    both = jaxsig.leave_one_out(
        params,
        X,
        Y,
        lambda p: jaxsig.logits(p, point)[0] @ jnp.array([1.0, 2.0]),
        np.array([5]),
        l2=0.1,
    )
    single = [
        jaxsig.leave_one_out(
            jaxsig.Params(params.w[:, k], params.b[k]),
            X,
            Y[:, k],
            lambda p: jaxsig.logits(p, point)[0],
            np.array([5]),
            l2=0.1,
        )
        for k in range(2)
    ]
    np.testing.assert_allclose(both, single[0] + 2 * single[1], rtol=1e-6 if X64 else 1e-3)


def test_leave_one_out_refuses_bad_rows_and_steps():
    X, y, X_eval, y_eval = data(n=30)
    params = fitted(X, y, 0.05)
    with pytest.raises(ValueError, match=r"rows must index the 30 training rows, got 0\.\.30"):
        jaxsig.leave_one_out(params, X, y, (X_eval, y_eval), np.array([0, 30]), l2=0.05)
    with pytest.raises(ValueError, match="rows must be a 1-d array of row indices"):
        jaxsig.leave_one_out(params, X, y, (X_eval, y_eval), np.array([0.5]), l2=0.05)
    with pytest.raises(ValueError, match="steps must be a positive int, got 0"):
        jaxsig.leave_one_out(params, X, y, (X_eval, y_eval), np.array([0]), l2=0.05, steps=0)


def test_influence_inside_jit_and_vmap():
    X, y, X_eval, y_eval = data()
    params = fitted(X, y, 0.05)
    target = jaxsig.held_out_loss(X_eval, y_eval)
    plain = jaxsig.influence(params, X, y, target, l2=0.05)
    jitted = jax.jit(lambda p: jaxsig.influence(p, X, y, target, l2=0.05))(params)
    np.testing.assert_allclose(jitted, plain, rtol=1e-5, atol=1e-9)
    points = jnp.asarray(X_eval[:3])
    per_point = jax.vmap(
        lambda x: jaxsig.influence(params, X, y, lambda p: jaxsig.logits(p, x[None])[0], l2=0.05)
    )(points)
    assert per_point.shape == (3, len(y))


def test_bad_targets_are_refused():
    X, y, *_ = data()
    params = fitted(X, y, 0.05)
    with pytest.raises(ValueError, match="of must be a function of the parameters"):
        jaxsig.influence(params, X, y, 3.0, l2=0.05)
    with pytest.raises(ValueError, match=r"X_eval of 3 features, got 2 item\(s\), X_eval of shape"):
        jaxsig.influence(params, X, y, (X[:, :2], y), l2=0.05)
