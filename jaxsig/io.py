"""Model files: parameters and everything prediction needs, in one ``.npz`` without pickles;
and (from `jaxsig._state_files`) state files, to resume a fit.

A file holds the arrays ``w``, ``b`` (and ``scaling_mean``, ``scaling_scale``, ``history`` when
present) and ``jaxsig_metadata``: a 0-d string array of JSON with the feature names, threshold,
target, classes, categories, each array's dtype, solver options, the jaxsig version that wrote
it and the file format's version (the key ``jaxsig_format`` marks the file as ours). It is written
atomically and read back with ``allow_pickle=False``; every field is checked on loading.
"""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

import jaxsig
from jaxsig import _npz
from jaxsig import _validate as check
from jaxsig._checkpoints import Checkpoint as Checkpoint
from jaxsig._model import Params, raw_predict, raw_predict_proba
from jaxsig._npz import MODEL_MARKER
from jaxsig._npz import ModelFileError as ModelFileError
from jaxsig._state_files import load_state as load_state
from jaxsig._state_files import save_state as save_state
from jaxsig.data import DataError, Standardization, standardize

FORMAT_VERSION = 1

_MARKER = MODEL_MARKER
_ARRAYS = ("w", "b", "scaling_mean", "scaling_scale", "history")
_SCALAR = (str, int, float, bool, type(None))


class SavedModel(NamedTuple):
    """A fitted binary model and what prediction needs besides its parameters.

    Attributes:
        params: ``Params`` with ``w`` (d,) and ``b`` ().
        feature_names: the d input columns, in order.
        threshold: class 1 where the probability exceeds it, in [0, 1].
        scaling: the `jaxsig.data.Standardization` applied to inputs before ``params``, or None.
        target: the label column's name, or None.
        classes: the original labels of class 0 and class 1, or () to predict 0/1.
        categories: one-hot encoded source columns and their categories (`jaxsig.data.read_csv`).
        history: the training objective per epoch, or None.
        solver_options: how it was fitted (e.g. ``{"solver": "lbfgs", "l2": 1.0}``): str keys,
            JSON scalar values.
    """

    params: Params
    feature_names: tuple[str, ...]
    threshold: float = 0.5
    scaling: Standardization | None = None
    target: str | None = None
    classes: tuple = ()
    categories: dict[str, tuple[str, ...]] = {}  # noqa: RUF012 (a NamedTuple default, never mutated)
    history: np.ndarray | None = None
    solver_options: dict[str, Any] = {}  # noqa: RUF012


def _check(model: SavedModel) -> None:
    """The invariants a model file guarantees; ``ValueError`` naming the first one broken."""
    w, b = np.asarray(model.params.w), np.asarray(model.params.b)
    if w.ndim != 1 or b.shape != ():
        raise ValueError(
            f"only single-output models are stored: w must be (d,) and b (), got {w.shape} "
            f"and {b.shape}"
        )
    d = w.shape[0]
    if str(w.dtype) not in _npz.FLOAT_DTYPES or b.dtype != w.dtype:
        raise ValueError(f"w and b must share a float dtype, got {w.dtype} and {b.dtype}")
    names = model.feature_names
    if len(names) != d or not all(isinstance(n, str) for n in names):
        raise ValueError(f"feature_names must be {d} strings (w has {d} entries), got {names!r}")
    if len(set(names)) != d:
        raise ValueError("feature_names must be distinct")
    if not np.all(np.isfinite(w.astype(np.float64))) or not np.isfinite(float(b)):
        raise ValueError("the parameters w, b hold NaN or infinite values")
    if not 0 <= model.threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {model.threshold}")
    others = [*(model.scaling or ()), *([] if model.history is None else [model.history])]
    if not all(str(np.asarray(a).dtype) in _npz.FLOAT_DTYPES for a in others):
        raise ValueError(f"scaling and history must be float arrays, got {others!r}")
    if model.scaling is not None:
        mean, scale = (np.asarray(a, np.float64) for a in model.scaling)
        if mean.shape != (d,) or scale.shape != (d,):
            raise ValueError(
                f"scaling mean and scale must be ({d},), got {mean.shape}, {scale.shape}"
            )
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise ValueError("scaling must be finite, with a positive scale")
    if model.target is not None and not isinstance(model.target, str):
        raise ValueError(f"target must be a str or None, got {model.target!r}")
    classes = model.classes
    if classes != () and (
        len(classes) != 2
        or not all(isinstance(c, _SCALAR[:4]) for c in classes)
        or classes[0] == classes[1]
        or not all(isinstance(c, str) or math.isfinite(c) for c in classes)
    ):
        raise ValueError(
            f"classes must be () or two distinct labels (str or number), got {classes!r}"
        )
    for column, levels in model.categories.items():
        if not isinstance(column, str) or not all(isinstance(v, str) for v in levels):
            raise ValueError(f"categories must map str to str categories, got {column!r}")
        missing = [v for v in levels if f"{column}={v}" not in names]
        if missing:
            raise ValueError(f"categories of {column!r} lack features {column}={missing[0]}...")
    if model.history is not None and np.ndim(model.history) != 1:
        raise ValueError(f"history must be 1-D, got shape {np.shape(model.history)}")
    for key, value in model.solver_options.items():
        if not isinstance(key, str) or not isinstance(value, _SCALAR):
            raise ValueError(f"solver_options must map str to JSON scalars, got {key!r}: {value!r}")


def _python(value):
    return value.item() if isinstance(value, np.generic) else value


def save(path: str | os.PathLike[str], model: SavedModel) -> None:
    """Write ``model`` to ``path`` (an ``.npz``; the name is used as given) atomically.

    The file appears complete or not at all: it is written beside ``path`` and renamed over it.

    Raises:
        ValueError: when ``model`` breaks an invariant that `load` checks; nothing is written.

    >>> import os, tempfile, jax.numpy as jnp, jaxsig
    >>> from jaxsig import io
    >>> params = jaxsig.Params(jnp.array([2.0]), jnp.array(-1.0))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> io.save(path, io.SavedModel(params, ("x",), classes=("no", "yes")))
    >>> io.predict(io.load(path), [[0.0], [1.0]]).tolist()
    ['no', 'yes']
    """
    model = model._replace(
        threshold=float(model.threshold),
        classes=tuple(_python(c) for c in model.classes),
        categories={k: tuple(v) for k, v in model.categories.items()},
        solver_options={k: _python(v) for k, v in model.solver_options.items()},
    )
    _check(model)
    arrays = {"w": model.params.w, "b": model.params.b}
    if model.scaling is not None:
        arrays["scaling_mean"], arrays["scaling_scale"] = model.scaling
    if model.history is not None:
        arrays["history"] = model.history
    arrays = {name: np.asarray(a) for name, a in arrays.items()}
    metadata = {
        _MARKER: FORMAT_VERSION,
        "jaxsig_version": jaxsig.__version__,
        "dtypes": {name: str(a.dtype) for name, a in arrays.items()},
        "feature_names": list(model.feature_names),
        "threshold": model.threshold,
        "target": model.target,
        "classes": list(model.classes),
        "categories": {k: list(v) for k, v in model.categories.items()},
        "solver_options": model.solver_options,
    }
    _npz.write(path, arrays, metadata)


def _metadata(array: np.ndarray) -> dict[str, Any]:
    metadata = _npz.metadata(array, _MARKER, FORMAT_VERSION, "model")
    expected = {
        "jaxsig_version": str,
        "dtypes": dict,
        "feature_names": list,
        "threshold": (int, float),
        "target": (str, type(None)),
        "classes": list,
        "categories": dict,
        "solver_options": dict,
    }
    missing = [key for key in expected if key not in metadata]
    if missing:
        raise ValueError(f"metadata lacks {', '.join(missing)}")
    for key, kind in expected.items():
        if not isinstance(metadata[key], kind) or isinstance(metadata[key], bool):
            raise ValueError(f"metadata {key!r} has the wrong type: {metadata[key]!r}")
    unknown = {k: v for k, v in metadata["dtypes"].items() if v not in _npz.FLOAT_DTYPES}
    if unknown:
        raise ValueError(f"unknown dtype(s) {unknown}")
    if not all(isinstance(v, list) for v in metadata["categories"].values()):
        raise ValueError("metadata 'categories' must map columns to lists")
    return metadata


def _model(arrays: dict[str, np.ndarray]) -> SavedModel:
    metadata = _metadata(arrays[_npz.METADATA])
    dtypes = metadata["dtypes"]
    expected = dict.fromkeys(("w", "b", *dtypes))
    if "scaling_mean" in expected or "scaling_scale" in expected:
        expected.update(dict.fromkeys(("scaling_mean", "scaling_scale")))
    absent = [name for name in expected if name not in arrays]
    if absent:
        raise ValueError(f"missing array(s) {', '.join(absent)}")
    restored = {}
    for name in _ARRAYS:
        if name not in arrays:
            continue
        stored, dtype = arrays[name], dtypes.get(name)
        if dtype is None:
            raise ValueError(f"no dtype recorded for array {name}")
        if str(stored.dtype) != dtype and not (dtype == "bfloat16" and stored.dtype == np.float32):
            raise ValueError(f"array {name} is {stored.dtype} but the metadata says {dtype}")
        restored[name] = stored.astype(jnp.dtype(dtype))  # bfloat16 back from float32, exactly
    scaling = None
    if "scaling_mean" in restored:
        scaling = Standardization(
            jnp.asarray(restored["scaling_mean"]), jnp.asarray(restored["scaling_scale"])
        )
    model = SavedModel(
        # a float64 model stays float64 only with x64 on, as any JAX array
        params=Params(jnp.asarray(restored["w"]), jnp.asarray(restored["b"])),
        feature_names=tuple(metadata["feature_names"]),
        threshold=float(metadata["threshold"]),
        scaling=scaling,
        target=metadata["target"],
        classes=tuple(metadata["classes"]),
        categories={k: tuple(v) for k, v in metadata["categories"].items()},
        history=restored.get("history"),
        solver_options=metadata["solver_options"],
    )
    _check(model)
    return model


def load(path: str | os.PathLike[str]) -> SavedModel:
    """Read a model written by `save`, checking every field.

    Parameters come back in their saved dtype (a float64 model is float32 unless
    ``jax_enable_x64`` is on, as JAX arrays are).

    Raises:
        ModelFileError: naming the file and the problem: missing, not an ``.npz`` archive, an
            ``.npz`` that is not a jaxsig model, truncated or corrupt, a newer format version,
            missing or malformed metadata, inconsistent shapes, non-finite parameters, a
            threshold outside [0, 1].
    """
    path = os.fspath(path)
    arrays = _npz.read(path)
    try:
        return _model(arrays)
    except ValueError as e:
        raise ModelFileError(f"{path}: {e}") from None


def _features(model: SavedModel, X: ArrayLike) -> jax.Array:
    X = check.as_features(X)
    d = model.params.w.shape[0]
    if X.shape[1] != d:
        raise DataError(
            f"X has {X.shape[1]} feature(s) but the model expects {d} "
            f"({', '.join(model.feature_names)})"
        )
    return X if model.scaling is None else standardize(model.scaling, X)


def predict_proba(model: SavedModel, X: ArrayLike) -> jax.Array:
    """Probability of ``classes[1]``: the stored scaling, then ``sigmoid(X w + b)``.

    Raises:
        DataError: when ``X`` has another number of columns than the model (a ``ValueError``).
    """
    return raw_predict_proba(model.params, _features(model, X))


def predict(model: SavedModel, X: ArrayLike) -> np.ndarray:
    """The original labels (``classes``) where the probability exceeds the threshold; 0/1
    (int32) for a model without classes."""
    hard = np.asarray(raw_predict(model.params, _features(model, X), model.threshold))
    return np.asarray(model.classes)[hard] if model.classes else hard
