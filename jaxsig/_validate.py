"""Checks at the public Python boundary: a ``ValueError`` naming the problem, before compiling.

One mechanism decides what can be checked. A value is *concrete* when it is not a tracer: a
NumPy array, a Python number, or a JAX array, also one a caller's ``jit``, ``vmap``, ``scan`` or
``shard_map`` closes over. Concrete values are converted and checked eagerly whatever trace is
running (`concrete_scope` evaluates under ``jax.ensure_compile_time_eval``), with device-side
reductions so that arrays spread over several hosts are checked too. Tracers get shape and
dtype checks only; the caller vouches for their values. No check converts a tracer to NumPy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.typing import ArrayLike

from jaxsig._model import Params


def is_concrete(*values) -> bool:
    """Whether no leaf of ``values`` is a tracer."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(values))


@contextlib.contextmanager
def concrete_scope(*values) -> Iterator[bool]:
    """Yields whether ``values`` are concrete; if so, JAX operations inside the block run
    eagerly even while a caller's trace is active, so their results can be inspected."""
    if not is_concrete(*values):
        yield False
        return
    with jax.ensure_compile_time_eval():
        yield True


def _host(x) -> np.ndarray:
    return np.asarray(x)


@jax.jit
def _has_nonfinite(x: jax.Array) -> jax.Array:
    """``inf * 0`` and ``nan * 0`` are NaN: one float reduction, no mask the size of ``x``
    (a counted boolean mask costs as much memory as ``x`` itself on XLA:CPU)."""
    return jnp.isnan(jnp.sum(x * 0))


def _count_nonfinite(x) -> tuple[int, tuple[int, ...] | None]:
    """Count of NaN or infinite entries of a concrete array and the first one's index; a device
    array goes to the host only when it holds one."""
    if isinstance(x, jax.Array):
        with jax.ensure_compile_time_eval():
            flagged = bool(_has_nonfinite(x))
        if not flagged:
            return 0, None
    bad = ~np.isfinite(_host(x))  # the error path: count on the host
    count = int(bad.sum())
    first = tuple(int(i) for i in np.unravel_index(np.argmax(bad), bad.shape)) if count else None
    return count, first


def _check_finite(name: str, x, given=None) -> None:
    """``x`` must be finite; ``given``, the host array it was converted from, tells an overflow
    of the conversion (a finite 1e300 in float32) from a NaN or infinity the user passed."""
    if not is_concrete(x):
        return
    count, first = _count_nonfinite(x)
    if count and given is not None and np.ndim(given) == 2:
        overflowed = ~np.isfinite(_host(x)) & np.isfinite(np.asarray(given, np.float64))
        if overflowed.any():
            columns = sorted({int(c) for c in np.nonzero(overflowed)[1]})
            largest = float(np.max(np.abs(np.asarray(given, np.float64)[overflowed])))
            raise ValueError(
                f"{name} column(s) {columns} hold values up to {largest:.3g}, beyond "
                f"{x.dtype}'s largest ({float(jnp.finfo(x.dtype).max):.3g}): scale those "
                "columns (standardise them) or compute in float64 (JAX_ENABLE_X64=1)"
            )
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


def _check_numeric(name: str, x) -> None:
    """A concrete non-JAX input must hold numbers (NumPy would make strings an object array)."""
    if is_concrete(x) and not isinstance(x, jax.Array):
        x = _host(x)
        if x.dtype == object or not (jnp.issubdtype(x.dtype, jnp.number) or x.dtype == bool):
            shown = repr(x.item()) if x.ndim == 0 else f"dtype {x.dtype}"
            raise ValueError(f"{name} must be numeric, got {shown}")


def check_flag(name: str, value) -> None:
    """A switch given as True or False (or 0 and 1, traced or not)."""
    try:
        _check_numeric(name, value)
    except ValueError:
        raise ValueError(f"{name} must be True or False, got {value!r}") from None
    if jnp.ndim(value) != 0:
        raise ValueError(f"{name} must be True or False, got shape {jnp.shape(value)}")
    if is_concrete(value):
        with jax.ensure_compile_time_eval():
            v = _host(value)
        if v.item() not in (0, 1):
            raise ValueError(f"{name} must be True or False, got {v.item()!r}")


def as_features(X: ArrayLike, name: str = "X", *, finite: bool = True) -> jax.Array:
    """``X`` as a 2-D floating array: integers and booleans are converted, not refused.

    ``finite=False`` leaves the finiteness check, a pass over ``X``, to `check_finite_after`."""
    _check_numeric(name, X)
    given = X if isinstance(X, np.ndarray | list) else None
    with concrete_scope(X), np.errstate(over="ignore"):  # an overflow is reported below
        X = jnp.asarray(X)
        if jnp.issubdtype(X.dtype, jnp.complexfloating):
            raise ValueError(f"{name} must be real, got dtype {X.dtype}")
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
        if _is_empty(X.shape):
            raise ValueError(
                f"{name} is empty: shape {X.shape}; need at least one row and one column"
            )
        if not jnp.issubdtype(X.dtype, jnp.floating):
            X = X.astype(jnp.result_type(float))
    _check_sharding(name, X)
    if finite:
        _check_finite(name, X, given)
    return X


def check_finite_after(name: str, x: jax.Array, result_finite: jax.Array) -> None:
    """Checks ``x`` only if a result computed from it, which any NaN or infinity in ``x``
    reaches (``X w + b``: NaN * 0 and inf * 0 are NaN), came out non-finite."""
    if is_concrete(result_finite) and not bool(result_finite):
        _check_finite(name, x)


def _is_empty(shape: tuple) -> bool:
    """Whether a dimension is 0; a symbolic one (``jax.export``) is at least 1."""
    return any(isinstance(s, int) and s == 0 for s in shape)


def as_labels(y: ArrayLike, X: jax.Array, *, require_both_classes: bool = True) -> jax.Array:
    """Labels in ``[0, 1]`` of shape (n,) or (n, k), cast to ``X``'s dtype."""
    _check_numeric("y", y)
    with concrete_scope(y) as concrete:
        y = jnp.asarray(y)
        if jnp.issubdtype(y.dtype, jnp.complexfloating):
            raise ValueError(f"y must hold real labels in [0, 1], got dtype {y.dtype}")
        n = X.shape[0]
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D (n,) or 2-D (n, k), got shape {y.shape}")
        if y.shape[0] != n:
            raise ValueError(
                f"y has {y.shape[0]} rows but X has {n}: shapes {y.shape} and {X.shape}"
            )
        if y.ndim == 2 and y.shape[1] == 0:
            raise ValueError(f"y has no output columns: shape {y.shape}")
        y = y.astype(X.dtype)
        if not concrete:
            return y
        _check_finite("y", y)
        low, high, outside, example = (_host(a) for a in _label_summary(y))
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


def _per_row(name: str, value: ArrayLike, X: jax.Array) -> jax.Array:
    """One value per row of ``X``, shape (n,), in ``X``'s dtype (half precisions: float32)."""
    v = jnp.asarray(value)
    if v.shape != (X.shape[0],):
        raise ValueError(
            f"{name} must have shape ({X.shape[0]},) to match X {X.shape}, got {v.shape}"
        )
    return v.astype(jnp.promote_types(X.dtype, jnp.float32))


def as_sample_weight(
    sample_weight: ArrayLike | None, X: jax.Array, name: str = "sample_weight"
) -> jax.Array | None:
    """Non-negative, finite weights of shape (n,) with a positive sum, in ``X``'s dtype (at
    least float32)."""
    if sample_weight is None:
        return None
    _check_numeric(name, sample_weight)
    with concrete_scope(sample_weight) as concrete:
        v = _per_row(name, sample_weight, X)
        if not concrete:
            return v
        _check_finite(name, v)
        negative, total = (_host(a) for a in _weight_summary(v))
    if negative:
        raise ValueError(f"{name} has {int(negative)} negative value(s)")
    if total <= 0:
        raise ValueError(f"{name} sums to zero: no row would count")
    return v


def as_offset(offset: ArrayLike | None, X: jax.Array, name: str = "offset") -> jax.Array | None:
    """A known term added to every logit: finite, of shape (n,), in ``X``'s dtype (at least
    float32)."""
    if offset is None:
        return None
    _check_numeric(name, offset)
    with concrete_scope(offset) as concrete:
        o = _per_row(name, offset, X)
        if concrete:
            _check_finite(name, o)
    return o


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
    for field, value in params._asdict().items():
        if not is_concrete(value):
            continue
        count, first = _count_nonfinite(value)
        if count:
            where = f" (first at index {first})" if first else ""
            raise ValueError(
                f"params.{field} holds {count} NaN or infinite value(s){where}; "
                "params must be finite"
            )


def check_hyperparameter(
    name: str,
    value: ArrayLike,
    *,
    positive: bool = False,
    at_most: float | None = None,
    shapes: tuple = ((),),
) -> None:
    """A hyperparameter must be finite and non-negative (positive if asked; at most
    ``at_most`` if given), of one of ``shapes`` (a scalar unless told otherwise)."""
    _check_numeric(name, value)
    if jnp.shape(value) not in shapes:
        allowed = " or ".join("a scalar" if s == () else f"shape {s}" for s in shapes)
        raise ValueError(f"{name} must be {allowed}, got shape {jnp.shape(value)}")
    if not is_concrete(value):
        return
    with jax.ensure_compile_time_eval():
        v = _host(value).astype(np.float64)
    bad = ~np.isfinite(v) | (v < 0) | ((v == 0) if positive else False)
    if at_most is not None:
        bad = bad | (v > at_most)
    if bad.any():
        bound = "> 0" if positive else ">= 0"
        if at_most is not None:
            bound = f"in {'(' if positive else '['}0, {at_most:g}]"
        shown = v.item() if v.ndim == 0 else f"{v[np.argmax(bad)]} at index {int(np.argmax(bad))}"
        raise ValueError(f"{name} must be finite and {bound}, got {shown}")


def as_sweep_axis(
    name: str,
    value,
    *,
    integer: bool = False,
    low: float = -np.inf,
    high: float = np.inf,
    open_low: bool = False,
):
    """A sweep axis as a 1-D array (a scalar is one value): a finite NumPy array with every value
    in ``[low, high]`` (``(low, high]`` with ``open_low``), or, traced, a JAX array checked by
    shape and dtype only."""
    concrete = is_concrete(value)
    if concrete:
        with jax.ensure_compile_time_eval():
            array = _host(value)
    else:
        array = jnp.asarray(value)
    if array.ndim > 1 or array.size == 0:
        raise ValueError(f"{name} must be a scalar or a non-empty 1-D sequence, got {array.shape}")
    array = array.reshape(-1)
    if integer:
        if not jnp.issubdtype(array.dtype, jnp.integer):
            raise ValueError(f"{name} values must be integers, got dtype {array.dtype}")
        return array.astype(np.int64) if concrete else array
    if not jnp.issubdtype(array.dtype, jnp.number) or jnp.issubdtype(
        array.dtype, jnp.complexfloating
    ):
        raise ValueError(f"{name} values must be real numbers, got dtype {array.dtype}")
    if not concrete:
        return array
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
