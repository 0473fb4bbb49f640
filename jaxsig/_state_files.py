"""State files: a fit's `FitState` in jaxsig's ``.npz`` container, to resume it later.

Each leaf of the state's pytree is an array named ``leaf_<i>``; the JSON lists every leaf's path
in the pytree (``.solver_state.rho``), dtype and shape (PRNG keys as their key data, with the
implementation), the format's version and the caller's metadata. Loading checks all of it;
`jaxsig.fit` then rebuilds the pytree against the structure it starts from
(`jaxsig._checkpoints.restore`), so a state of another solver or shape is refused by name.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxsig
from jaxsig import _checkpoints, _npz
from jaxsig._npz import FLOAT_DTYPES, METADATA, STATE_MARKER, ModelFileError
from jaxsig._solvers._driver import FitState

STATE_FORMAT_VERSION = 1
_DTYPES = (*FLOAT_DTYPES, "int32", "int64", "uint32", "bool")


def save_state(
    path: str | os.PathLike[str], state: FitState, metadata: dict[str, Any] | None = None
) -> None:
    """Write a fit's state (`FitResult.state`) to ``path`` atomically, for resuming later with
    ``fit(..., resume=load_state(path))``.

    Every leaf of the pytree is stored under its path (``.solver_state.rho``); PRNG keys as
    their key data and implementation. ``metadata``, a JSON object, is kept beside it (the
    command line records its options and a fingerprint of the data there).

    Raises:
        ValueError: ``state`` is not a `FitState`, or ``metadata`` is not JSON; nothing is
            written.
    """
    if not isinstance(state, FitState):
        raise ValueError(f"state must be a jaxsig.FitState (result.state), got {type(state)}")
    try:
        user = json.loads(json.dumps(metadata or {}, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ValueError(f"metadata must be a JSON object: {e}") from None
    arrays, leaves = {}, []
    for i, (name, leaf) in enumerate(_checkpoints.by_path(state).items()):
        entry = {"path": name}
        if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            entry["key"] = _checkpoints.impl_name(leaf.dtype)
            leaf = jax.random.key_data(leaf)
        array = np.asarray(leaf)
        entry.update(dtype=str(array.dtype), shape=list(array.shape))
        arrays[f"leaf_{i}"] = array
        leaves.append(entry)
    described = {
        STATE_MARKER: STATE_FORMAT_VERSION,
        "jaxsig_version": jaxsig.__version__,
        "leaves": leaves,
        "metadata": user,
    }
    _npz.write(path, arrays, described)


def _state(arrays: dict[str, np.ndarray]) -> _checkpoints.Checkpoint:
    described = _npz.metadata(arrays[METADATA], STATE_MARKER, STATE_FORMAT_VERSION, "state")
    entries, user = described.get("leaves"), described.get("metadata")
    if not isinstance(entries, list) or not isinstance(user, dict):
        raise ValueError("metadata lacks its 'leaves' list or 'metadata' object")
    expected = {f"leaf_{i}" for i in range(len(entries))} | {METADATA}
    if set(arrays) != expected:
        odd = sorted(set(arrays) ^ expected)[0]
        raise ValueError(f"the arrays do not match the metadata (array {odd})")
    leaves = {}
    for i, entry in enumerate(entries):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and entry.get("dtype") in _DTYPES
            and isinstance(entry.get("shape"), list)
            and all(isinstance(s, int) and not isinstance(s, bool) for s in entry["shape"])
        ):
            raise ValueError(f"leaf {i} is described badly: {entry!r}")
        stored = arrays[f"leaf_{i}"]
        dtype = entry["dtype"]
        widened = dtype == "bfloat16" and stored.dtype == np.float32
        if (str(stored.dtype) != dtype and not widened) or list(stored.shape) != entry["shape"]:
            raise ValueError(
                f"leaf {entry['path']} is {stored.dtype}{list(stored.shape)} but the metadata "
                f"says {dtype}{entry['shape']}"
            )
        value = stored.astype(jnp.dtype(dtype))
        if "key" in entry:
            if entry["key"] not in _checkpoints.key_impls().values() or dtype != "uint32":
                raise ValueError(f"leaf {entry['path']} is not key data of a known PRNG")
            value = jax.random.wrap_key_data(value, impl=entry["key"])
        leaves[entry["path"]] = value
    return _checkpoints.Checkpoint(leaves, user)


def load_state(path: str | os.PathLike[str]) -> _checkpoints.Checkpoint:
    """Read a state written by `save_state`, checking every field: a `Checkpoint` of leaves by
    path and the saved metadata. ``fit(..., resume=checkpoint)`` rebuilds the pytree and
    refuses one whose paths, shapes or dtypes differ from what that fit starts from.

    Raises:
        ModelFileError: naming the file and the problem (missing, not an ``.npz``, not a state
            file, truncated, a newer format, inconsistent arrays).
    """
    path = os.fspath(path)
    arrays = _npz.read(path, "state")
    try:
        return _state(arrays)
    except ValueError as e:
        raise ModelFileError(f"{path}: {e}") from None
