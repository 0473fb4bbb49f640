"""Checks at the public Python boundary: a ``ValueError`` naming the problem, before compiling.

Values can only be inspected when they are concrete. Inside a user's ``jit`` or ``vmap`` the
arguments are tracers: then only shapes are checked, and the caller vouches for the values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, NamedSharding
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


@jax.jit
def _label_summary(y: jax.Array):
    """Per-column min and max, the count of labels outside [0, 1] and one of them: reductions,
    so that they also work on arrays spread over several hosts."""
    columns = y.reshape(y.shape[0], -1)
    outside = ((y < 0) | (y > 1)).ravel()
    return columns.min(0), columns.max(0), jnp.sum(outside), y.ravel()[jnp.argmax(outside)]


@jax.jit
def _weight_summary(v: jax.Array):
    return jnp.sum(v < 0), jnp.sum(v)


def _check_sharding(name: str, x) -> None:
    sharding = getattr(x, "sharding", None)
    if (
        isinstance(sharding, NamedSharding)
        and any(sharding.spec)
        and AxisType.Explicit in sharding.mesh.axis_types
    ):
        raise ValueError(
            f"{name} is sharded ({sharding.spec}) over a mesh with Explicit axes; place it with "
            "jaxsig.shard_rows, or on a mesh made with axis_types=(AxisType.Auto, ...)"
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
    _check_sharding(name, X)
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
        low, high, outside, example = (np.asarray(a) for a in _label_summary(y))
        if outside:
            raise ValueError(
                f"y must hold labels in [0, 1]; {int(outside)} value(s) are outside, e.g. {example}"
            )
        if require_both_classes and np.any(low == high):
            constant = int(np.argmax(low == high))
            raise ValueError(
                f"y column {constant} holds one class only (every label is "
                f"{low[constant]}); a logistic model needs both 0 and 1 labels"
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
        negative, total = (np.asarray(a) for a in _weight_summary(v))
        if negative:
            raise ValueError(f"sample_weight has {int(negative)} negative value(s)")
        if total <= 0:
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


def as_sweep_axis(
    name: str,
    value,
    *,
    integer: bool = False,
    low: float = -np.inf,
    high: float = np.inf,
    open_low: bool = False,
) -> np.ndarray:
    """A sweep axis as a finite 1-D host array (a scalar is one value), every value in
    ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    array = np.asarray(value)
    if array.ndim > 1 or array.size == 0:
        raise ValueError(f"{name} must be a scalar or a non-empty 1-D sequence, got {array.shape}")
    array = array.reshape(-1)
    if integer:
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{name} values must be integers, got dtype {array.dtype}")
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"{name} values must be real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"{name} has a NaN or infinite value at index {bad[0]}: {array[bad[0]]}")
    outside = (array <= low if open_low else array < low) | (array > high)
    if outside.any():
        i = int(np.argmax(outside))
        bound = f"{'>' if open_low else '>='} {low:g}" + (
            f" and <= {high:g}" if high < np.inf else ""
        )
        raise ValueError(f"{name} must be {bound}; index {i} is {array[i]:g}")
    return array
