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
