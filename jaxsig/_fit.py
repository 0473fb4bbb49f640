"""Training as one compiled ``lax.scan`` over epochs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jaxsig import _doubleword as dw
from jaxsig import _validate as check
from jaxsig._derivatives import value_and_gradient
from jaxsig._loss import objective
from jaxsig._model import Params, init

Optimizer = optax.GradientTransformation | Callable[[jax.Array], optax.GradientTransformation]
GradientMode = Literal["closed_form", "autodiff"]

DEFAULT_LEARNING_RATE = 0.01


class FitResult(NamedTuple):
    """Fitted parameters; ``history[e]`` is the objective at the parameters entering epoch ``e``."""

    params: Params
    history: jax.Array


def _compensated_step(params: Params, compensation: Params, step: Params) -> tuple[Params, Params]:
    """``params + step`` with Kahan compensation: the rounding lost in each addition is carried.

    Thousands of small steps on float32 weights otherwise drift by many ulps.
    """
    corrected = jax.tree.map(lambda s, c: s - c, step, compensation)
    new_params = jax.tree.map(lambda p, s: p + s, params, corrected)
    lost = jax.tree.map(lambda t, p, s: (t - p) - s, new_params, params, corrected)
    return new_params, lost


@functools.partial(jax.jit, static_argnames=("epochs", "optimizer", "gradient"))
def _train(
    params: Params,
    X: jax.Array,
    y: jax.Array,
    sample_weight: jax.Array | None,
    learning_rate: jax.Array,
    l2: jax.Array,
    *,
    epochs: int,
    optimizer: Optimizer | None,
    gradient: GradientMode,
) -> FitResult:
    def value_and_grad(p):
        if gradient == "closed_form":
            return value_and_gradient(p, X, y, l2=l2, sample_weight=sample_weight)
        return jax.value_and_grad(objective)(p, X, y, l2=l2, sample_weight=sample_weight)

    if optimizer is None:

        def epoch(carry, _):
            p, compensation = carry
            value, grad = value_and_grad(p)
            step = jax.tree.map(lambda g: dw.mul(-learning_rate, g), grad)
            return _compensated_step(p, compensation, step), value

        state = jax.tree.map(jnp.zeros_like, params)
    else:
        tx = (
            optimizer
            if isinstance(optimizer, optax.GradientTransformation)
            else optimizer(learning_rate)
        )

        def epoch(carry, _):
            p, opt_state = carry
            value, grad = value_and_grad(p)
            updates, opt_state = tx.update(grad, opt_state, p)
            return (optax.apply_updates(p, updates), opt_state), value

        state = tx.init(params)

    (params, _), history = jax.lax.scan(epoch, (params, state), length=epochs)
    return FitResult(params, history)


def fit(
    X: ArrayLike,
    y: ArrayLike,
    *,
    epochs: int = 1000,
    learning_rate: ArrayLike | None = None,
    l2: ArrayLike = 0.0,
    sample_weight: ArrayLike | None = None,
    optimizer: Optimizer | None = None,
    gradient: GradientMode = "closed_form",
    params: Params | None = None,
) -> FitResult:
    """Trains a logistic model by full-batch gradient steps, compiled as one ``lax.scan``.

    Args:
      X: features, (n, d); integer or boolean input is converted to floats.
      y: labels in ``[0, 1]``, (n,) or (n, k) for k independent outputs.
      epochs: number of full-batch steps (static: a new value compiles anew).
      learning_rate: step size, traced (default 0.01, as in the tutorial). With ``optimizer`` a
        ready ``optax.GradientTransformation`` it must be None: the transformation owns it.
      l2: strength of ``(l2 / 2) ||w||^2``, traced.
      sample_weight: non-negative row weights, (n,).
      optimizer: None for the tutorial's step ``w -= learning_rate * grad``; an
        ``optax.GradientTransformation``; or a factory such as ``optax.adam`` that is called with
        the traced learning rate, so sweeping the rate never recompiles.
      gradient: ``"closed_form"`` (`jaxsig.gradient`) or ``"autodiff"`` (``jax.grad``).
      params: starting point; zeros by default.

    Returns:
      `FitResult` with the final parameters and the objective before each epoch.

    Raises:
      ValueError: before compiling, for inputs of the wrong shape, NaN or inf, labels outside
        ``[0, 1]``, a single class, empty data, negative weights or bad hyperparameters.

    Concrete inputs are validated; inside ``jit`` or ``vmap`` only shapes can be.
    """
    X = check.as_features(X)
    y = check.as_labels(y, X)
    sample_weight = check.as_sample_weight(sample_weight, X)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if gradient not in ("closed_form", "autodiff"):
        raise ValueError(f"gradient must be 'closed_form' or 'autodiff', got {gradient!r}")
    if isinstance(optimizer, optax.GradientTransformation):
        if learning_rate is not None:
            raise ValueError(
                "learning_rate is set by the optax transformation; pass an optimizer factory "
                "(e.g. optax.adam) to give it here"
            )
    elif optimizer is not None and not callable(optimizer):
        raise ValueError(f"optimizer must be an optax transformation or factory, got {optimizer!r}")
    learning_rate = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
    check.check_hyperparameter("learning_rate", learning_rate, positive=True)
    check.check_hyperparameter("l2", l2)
    if params is None:
        params = init(X.shape[1], None if y.ndim == 1 else y.shape[1], dtype=X.dtype)
    check.check_params(params, X, y)
    params = jax.tree.map(lambda a: jnp.asarray(a, X.dtype), params)
    return _train(
        params,
        X,
        y,
        sample_weight,
        jnp.asarray(learning_rate, X.dtype),
        jnp.asarray(l2, X.dtype),
        epochs=epochs,
        optimizer=optimizer,
        gradient=gradient,
    )
