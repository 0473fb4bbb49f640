"""fit: the tutorial reproduced, optax optimizers, traced hyperparameters, weights, outputs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from support import FULL_DTYPES, TUTORIAL_ATOL, dtype_param

import jaxsig
from jaxsig._solvers import _driver

SPAM_X = np.array([[0.2, 0.8], [0.5, 0.4], [0.9, 0.1], [0.4, 0.6]])
SPAM_Y = np.array([0, 0, 1, 0])
SPAM_TEST = np.array([[0.6, 0.3], [0.1, 0.9]])


def tutorial_numpy(X, y, lr=0.01, epochs=1000):
    """The tutorial's code, verbatim but for layout: float64 NumPy, plain gradient descent."""

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    m, n = X.shape
    weights = np.zeros(n)
    bias = 0
    for _ in range(epochs):
        linear_model = np.dot(X, weights) + bias
        y_pred = sigmoid(linear_model)
        dw = (1 / m) * np.dot(X.T, (y_pred - y))
        db = (1 / m) * np.sum(y_pred - y)
        weights -= lr * dw
        bias -= lr * db
    return weights, bias


def tutorial_predict(X, weights, bias):
    y_pred = 1 / (1 + np.exp(-(np.dot(X, weights) + bias)))
    return [1 if i > 0.5 else 0 for i in y_pred]


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("gradient", ["closed_form", "autodiff"])
def test_tutorial_spam_example_reproduced(dtype, gradient):
    weights, bias = tutorial_numpy(SPAM_X, SPAM_Y)
    result = jaxsig.fit(SPAM_X.astype(dtype), SPAM_Y, gradient=gradient)
    assert result.params.w.dtype == dtype
    atol = TUTORIAL_ATOL[np.dtype(dtype)]
    np.testing.assert_allclose(result.params.w, weights, rtol=0, atol=atol)
    np.testing.assert_allclose(result.params.b, bias, rtol=0, atol=atol)
    predictions = jaxsig.predict(result.params, SPAM_TEST.astype(dtype))
    assert predictions.tolist() == tutorial_predict(SPAM_TEST, weights, bias) == [0, 0]


def test_history_is_the_objective_entering_each_epoch():
    result = jaxsig.fit(SPAM_X, SPAM_Y, epochs=5, learning_rate=0.5)
    assert result.history.shape == (5,)
    np.testing.assert_allclose(result.history[0], np.log(2), rtol=1e-6)
    again = jaxsig.fit(SPAM_X, SPAM_Y, epochs=4, learning_rate=0.5)
    expected = jaxsig.objective(again.params, jnp.asarray(SPAM_X, jnp.float32), SPAM_Y)
    np.testing.assert_allclose(result.history[4], expected, rtol=1e-6)
    assert np.all(np.diff(np.asarray(result.history)) < 0)


def optax_by_hand(tx, X, y, epochs, l2):
    """An independent loop: jax.grad of the objective and optax, one Python step at a time."""
    params = jaxsig.init(X.shape[1], dtype=X.dtype)
    state = tx.init(params)
    grad = jax.jit(jax.grad(jaxsig.objective), static_argnames=())
    for _ in range(epochs):
        updates, state = tx.update(grad(params, X, y, l2=l2), state, params)
        params = optax.apply_updates(params, updates)
    return params


@pytest.mark.parametrize(
    "make",
    [optax.sgd, lambda lr: optax.sgd(lr, momentum=0.9), optax.adam],
    ids=["sgd", "momentum", "adam"],
)
def test_optax_transformations_match_a_python_loop(make):
    rng = np.random.default_rng(3)
    X = jnp.asarray(rng.normal(size=(40, 3)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, 40), jnp.float32)
    expected = optax_by_hand(make(0.05), X, y, epochs=60, l2=0.1)
    for optimizer, lr in [(make(0.05), None), (make, 0.05)]:
        result = jaxsig.fit(X, y, epochs=60, l2=0.1, optimizer=optimizer, learning_rate=lr)
        np.testing.assert_allclose(result.params.w, expected.w, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(result.params.b, expected.b, rtol=1e-4, atol=1e-5)


def test_sgd_transformation_equals_the_plain_step():
    plain = jaxsig.fit(SPAM_X, SPAM_Y, epochs=200, learning_rate=0.3)
    via_optax = jaxsig.fit(SPAM_X, SPAM_Y, epochs=200, optimizer=optax.sgd(0.3))
    np.testing.assert_allclose(plain.params.w, via_optax.params.w, rtol=1e-5)


def test_new_learning_rate_and_l2_do_not_recompile():
    X = np.random.default_rng(0).normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(float)
    jaxsig.fit(X, y, epochs=17, learning_rate=0.1, l2=0.0)
    traces = _driver.run._cache_size()
    jaxsig.fit(X, y, epochs=17, learning_rate=0.2, l2=0.5)
    jaxsig.fit(X, y, epochs=17, learning_rate=0.3, l2=0.01, optimizer=optax.adam)
    traces_with_adam = _driver.run._cache_size()
    jaxsig.fit(X, y, epochs=17, learning_rate=0.4, l2=0.02, optimizer=optax.adam)
    assert _driver.run._cache_size() == traces_with_adam == traces + 1


def test_vmap_over_learning_rate_is_one_call_and_equals_a_loop():
    X = jnp.asarray(SPAM_X, jnp.float32)
    rates = jnp.array([0.01, 0.1, 1.0], jnp.float32)

    def final_weights(rate):
        return jaxsig.fit(X, SPAM_Y, epochs=50, learning_rate=rate).params.w

    swept = jax.jit(jax.vmap(final_weights))(rates)
    looped = jnp.stack([final_weights(r) for r in rates])
    np.testing.assert_allclose(swept, looped, rtol=1e-6)


def test_multi_output_columns_are_independent_fits():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(25, 3))
    Y = rng.integers(0, 2, size=(25, 2)).astype(float)
    joint = jaxsig.fit(X, Y, epochs=100, learning_rate=0.5, l2=0.1)
    assert joint.params.w.shape == (3, 2) and joint.params.b.shape == (2,)
    for j in range(2):
        single = jaxsig.fit(X, Y[:, j], epochs=100, learning_rate=0.5, l2=0.1)
        np.testing.assert_allclose(joint.params.w[:, j], single.params.w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(joint.params.b[j], single.params.b, rtol=1e-5, atol=1e-6)


def test_weight_two_equals_a_repeated_row():
    weights = np.array([1.0, 2.0, 1.0, 3.0])
    rows = np.repeat(np.arange(4), weights.astype(int))
    weighted = jaxsig.fit(SPAM_X, SPAM_Y, epochs=300, learning_rate=0.5, sample_weight=weights)
    repeated = jaxsig.fit(SPAM_X[rows], SPAM_Y[rows], epochs=300, learning_rate=0.5)
    np.testing.assert_allclose(weighted.params.w, repeated.params.w, rtol=1e-5)


def test_integer_features_are_converted():
    X = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    result = jaxsig.fit(X, np.array([0, 1, 1, 0]), epochs=10)
    assert result.params.w.dtype == jnp.result_type(float)
