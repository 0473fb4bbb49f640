"""Params pytree, init, logits and predictions."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxsig


def test_init_shapes_and_random_start():
    assert jaxsig.init(3).w.shape == (3,) and jaxsig.init(3).b.shape == ()
    params = jaxsig.init(3, 2, key=jax.random.key(0), scale=0.5)
    assert params.w.shape == (3, 2) and params.b.shape == (2,)
    assert float(jnp.std(params.w)) > 0.1 and not np.any(params.b)


def test_params_is_a_pytree():
    params = jaxsig.init(2)
    doubled = jax.tree.map(lambda a: a + 1, params)
    assert isinstance(doubled, jaxsig.Params) and len(jax.tree.leaves(params)) == 2


def test_predictions_follow_the_tutorial_rule():
    params = jaxsig.Params(jnp.array([1.0, -1.0]), jnp.array(0.0))
    X = jnp.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    np.testing.assert_allclose(jaxsig.logits(params, X), [2.0, -2.0, 0.0])
    proba = jaxsig.predict_proba(params, X)
    np.testing.assert_allclose(proba, jaxsig.sigmoid(jnp.array([2.0, -2.0, 0.0])))
    assert jaxsig.predict(params, X).tolist() == [1, 0, 0]  # strictly above 0.5, as the tutorial


def test_threshold_is_traced():
    params = jaxsig.Params(jnp.array([1.0]), jnp.array(0.0))
    X = jnp.linspace(-3, 3, 7)[:, None]
    thresholds = jnp.array([0.1, 0.5, 0.9])
    counts = jax.vmap(lambda t: jaxsig.predict(params, X, t).sum())(thresholds)
    assert counts.tolist() == [6, 3, 1]


def test_predictions_inside_jit_vmap_and_grad_with_closed_over_data():
    """predict_proba / decision_function / predict read X's finiteness off the logits; inside a
    caller's trace that check is skipped for tracers, and the values equal eager ones."""
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.normal(size=(20, 3)), dtype)  # a jax array, closed over below
    w = jnp.asarray(rng.normal(size=(4, 3)), dtype)
    eager = [jaxsig.predict_proba(jaxsig.Params(v, jnp.asarray(0.1, dtype)), X) for v in w]

    def proba(v):
        return jaxsig.predict_proba(jaxsig.Params(v, jnp.asarray(0.1, dtype)), X)

    np.testing.assert_array_equal(jax.jit(proba)(w[0]), eager[0])
    # vmap turns four matrix-vector products into one matrix product: logits may differ by a
    # rounding, which the sigmoid passes on (its slope is at most 1/4)
    eps = float(jnp.finfo(dtype).eps)
    np.testing.assert_allclose(jax.jit(jax.vmap(proba))(w), jnp.stack(eager), rtol=16 * eps)
    logits = jax.jit(lambda v: jaxsig.decision_function(jaxsig.Params(v, 0.1), X))(w[0])
    np.testing.assert_allclose(logits, X @ w[0] + 0.1, rtol=1e-6)
    labels = jax.jit(lambda v: jaxsig.predict(jaxsig.Params(v, 0.1), X))(w[0])
    assert labels.tolist() == (eager[0] > 0.5).astype(int).tolist()
    grad = jax.grad(lambda v: proba(v).sum())(w[0])
    s = np.asarray(eager[0], np.float64)
    by_hand = (s * (1 - s)) @ np.asarray(X, np.float64)
    np.testing.assert_allclose(grad, by_hand, rtol=1e-5)
