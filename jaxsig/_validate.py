"""Checks at the public Python boundary: a ``ValueError`` naming the problem, before compiling.

Values can only be inspected when they are concrete. Inside a user's ``jit`` or ``vmap`` the
arguments are tracers: then only shapes are checked, and the caller vouches for the values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxsig._model import Params


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _host(x) -> np.ndarray:
    return np.asarray(x)


@jax.jit
def _has_nonfinite(x: jax.Array) -> jax.Array:
    """``inf * 0`` and ``nan * 0`` are NaN: one float reduction, no mask the size of ``x``
    (a counted boolean mask costs as much memory as ``x`` itself on XLA:CPU)."""
    return jnp.isnan(jnp.sum(x * 0))


def _count_nonfinite(x) -> tuple[int, tuple[int, ...] | None]:
    """Count of NaN or infinite entries and the first one's index; a device array goes to the
    host only when it holds one."""
    if isinstance(x, jax.Array):
        flagged = _has_nonfinite(x)
        if isinstance(flagged, jax.core.Tracer):  # x is concrete, but a caller's jit is tracing
            with jax.ensure_compile_time_eval():
                flagged = _has_nonfinite(x)
        if not bool(flagged):
            return 0, None
        x = np.asarray(x)  # the error path: count on the host
    bad = ~np.isfinite(_host(x))
    count = int(bad.sum())
    first = tuple(int(i) for i in np.unravel_index(np.argmax(bad), bad.shape)) if count else None
    return count, first


def _check_finite(name: str, x) -> None:
    if not _is_concrete(x):
        return
    count, first = _count_nonfinite(x)
    if count:
        raise ValueError(
            f"{name} contains {count} NaN or infinite value(s) (first at index {first}); "
            "remove or impute them before fitting"
        )


def as_features(X: ArrayLike, name: str = "X") -> jax.Array:
    """``X`` as a 2-D floating array: integers and booleans are converted, not refused."""
    if _is_concrete(X) and not isinstance(X, jax.Array):
        X = _host(X)
        if X.dtype == object or not (jnp.issubdtype(X.dtype, jnp.number) or X.dtype == bool):
            raise ValueError(f"{name} must be numeric, got dtype {X.dtype}")
    X = jnp.asarray(X)
    if jnp.issubdtype(X.dtype, jnp.complexfloating):
        raise ValueError(f"{name} must be real, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}; need at least one row and one column")
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    _check_finite(name, X)
    return X


def as_labels(y: ArrayLike, X: jax.Array, *, require_both_classes: bool = True) -> jax.Array:
    """Labels in ``[0, 1]`` of shape (n,) or (n, k), cast to ``X``'s dtype."""
    y = jnp.asarray(y)
    if jnp.issubdtype(y.dtype, jnp.complexfloating) or y.dtype == object:
        raise ValueError(f"y must hold real labels in [0, 1], got dtype {y.dtype}")
    n = X.shape[0]
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D (n,) or 2-D (n, k), got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0]} rows but X has {n}: shapes {y.shape} and {X.shape}")
    if y.ndim == 2 and y.shape[1] == 0:
        raise ValueError(f"y has no output columns: shape {y.shape}")
    y = y.astype(X.dtype)
    _check_finite("y", y)
    if _is_concrete(y):
        host = _host(y)
        outside = (host < 0) | (host > 1)
        if outside.any():
            raise ValueError(
                f"y must hold labels in [0, 1]; {int(outside.sum())} value(s) are outside, "
                f"e.g. {host[outside].flat[0]}"
            )
        columns = host.reshape(n, -1)
        if require_both_classes and np.any(columns.min(axis=0) == columns.max(axis=0)):
            constant = int(np.argmax(columns.min(axis=0) == columns.max(axis=0)))
            raise ValueError(
                f"y column {constant} holds one class only (every label is "
                f"{columns[0, constant]}); a logistic model needs both 0 and 1 labels"
            )
    return y


def as_sample_weight(sample_weight: ArrayLike | None, X: jax.Array) -> jax.Array | None:
    """Non-negative, finite weights of shape (n,) with a positive sum, in ``X``'s dtype (at
    least float32)."""
    if sample_weight is None:
        return None
    v = jnp.asarray(sample_weight)
    if v.shape != (X.shape[0],):
        raise ValueError(
            f"sample_weight must have shape ({X.shape[0]},) to match X {X.shape}, got {v.shape}"
        )
    v = v.astype(jnp.promote_types(X.dtype, jnp.float32))  # half-precision data fit in float32
    _check_finite("sample_weight", v)
    if _is_concrete(v):
        host = _host(v)
        if (host < 0).any():
            raise ValueError(f"sample_weight has {int((host < 0).sum())} negative value(s)")
        if host.sum() <= 0:
            raise ValueError("sample_weight sums to zero: no row would count")
    return v


def check_params(params: Params, X: jax.Array, y: jax.Array | None = None) -> None:
    """``params`` must be a `Params` whose ``w`` matches ``X``'s features and ``y``'s outputs."""
    if not isinstance(params, Params):
        raise ValueError(f"params must be jaxsig.Params, got {type(params).__name__}")
    w = jnp.shape(params.w)
    if len(w) not in (1, 2) or w[0] != X.shape[1]:
        raise ValueError(
            f"params.w has shape {w} but X has {X.shape[1]} features: shapes must agree"
        )
    if y is not None and (y.shape[1:] != w[1:]):
        raise ValueError(f"params.w has shape {w} but y has shape {y.shape}: outputs must agree")
    expected_b = () if len(w) == 1 else (w[1],)
    if jnp.shape(params.b) != expected_b:
        raise ValueError(
            f"params.b must have shape {expected_b} for w {w}, got {jnp.shape(params.b)}"
        )


def check_hyperparameter(name: str, value: ArrayLike, *, positive: bool = False) -> None:
    """A scalar hyperparameter must be finite and non-negative (positive if asked)."""
    if jnp.ndim(value) != 0:
        raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(value)}")
    if not _is_concrete(value):
        return
    v = float(value)
    if not np.isfinite(v) or v < 0 or (positive and v == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}, got {v}")
