"""jaxsig's file container: an ``.npz`` of arrays and one JSON string, written atomically and
read back without pickles. Model files (`jaxsig.io`) and state files (`jaxsig._state_files`)
are both such containers, told apart by a marker key in the JSON."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
from jax.typing import ArrayLike

from jaxsig import _files

METADATA = "jaxsig_metadata"
MODEL_MARKER = "jaxsig_format"
STATE_MARKER = "jaxsig_state_format"
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


class ModelFileError(ValueError):
    """A model or state file that cannot be used: missing, not ours, corrupt, newer, or
    inconsistent."""


ModelFileError.__module__ = "jaxsig.io"  # where users import it from


def storable(a: ArrayLike) -> np.ndarray:
    """A NumPy array ``.npy`` can hold: bfloat16 (an ml_dtypes type) is widened exactly to
    float32."""
    a = np.asarray(a)
    return a.astype(np.float32) if a.dtype.kind == "V" else a


def metadata(array: np.ndarray, marker: str, version: int, what: str) -> dict:
    """The JSON object of a container, once it carries ``marker`` with a version this jaxsig
    reads (at most ``version``); a ``ValueError`` naming the problem otherwise."""
    if array.shape != () or array.dtype.kind != "U":
        raise ValueError(f"{METADATA} must be a 0-d string array, got {array.dtype} {array.shape}")
    try:
        described = json.loads(str(array))
    except json.JSONDecodeError as e:
        raise ValueError(f"{METADATA} is not valid JSON: {e}") from None
    if not isinstance(described, dict) or marker not in described:
        other = {MODEL_MARKER: "a model file", STATE_MARKER: "a state file"}
        kind = next(
            (k for m, k in other.items() if isinstance(described, dict) and m in described), None
        )
        raise ValueError(
            f"not a jaxsig {what} file" + (f" ({kind})" if kind else f" (no key {marker!r})")
        )
    found = described[marker]
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise ValueError(f"{marker} must be a positive int, got {found!r}")
    if found > version:
        raise ValueError(
            f"{what} format version {found} (written by jaxsig {described.get('jaxsig_version')}) "
            f"is newer than this jaxsig reads ({version}): upgrade jaxsig"
        )
    return described


def write(path: str | os.PathLike[str], arrays: dict, metadata: dict) -> None:
    """``arrays`` and ``metadata`` (JSON) to ``path``, atomically."""
    stored = {name: storable(a) for name, a in arrays.items()}
    stored[METADATA] = np.array(json.dumps(metadata))  # ASCII: json escapes the rest
    with _files.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, allow_pickle=False, **stored)


# Every .npz (a zip archive) starts with a local file header.
_ZIP_MAGIC = b"PK\x03\x04"


def _reason(error: Exception) -> str:
    """NumPy's message, unless it is about pickles: its advice to allow them is never passed on."""
    return (
        "it holds pickled objects, which jaxsig never loads"
        if "pickle" in str(error)
        else str(error)
    )


def read(path: str, what: str = "model") -> dict[str, np.ndarray]:
    """Every array of a jaxsig ``.npz`` (a ``what`` file), read without pickles."""
    try:
        f = open(path, "rb")  # noqa: SIM115 (np.load leaks the file it opens when the zip is bad)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such {what} file") from None
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read: {e.strerror or e}") from None
    with f:
        head = f.read(len(_ZIP_MAGIC))
        f.seek(0)
        if head != _ZIP_MAGIC:  # a CSV, a pickle, ...: no reader of ours or NumPy's goes further
            kind = "one .npy array, not an .npz" if head == b"\x93NUM" else "not an .npz archive"
            raise ModelFileError(f"{path}: not a jaxsig {what} file ({kind})")
        try:
            stored = np.load(f, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise ModelFileError(
                f"{path}: not a jaxsig {what} file (unreadable .npz archive: {_reason(e)})"
            ) from None
        if not isinstance(stored, np.lib.npyio.NpzFile):
            raise ModelFileError(f"{path}: not a jaxsig {what} file (one .npy array, not an .npz)")
        if METADATA not in stored.files:
            held = ", ".join(stored.files) or "nothing"
            raise ModelFileError(f"{path}: not a jaxsig {what} file (no {METADATA}; holds {held})")
        try:
            return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise ModelFileError(
                f"{path}: corrupt or truncated {what} file: {_reason(e)}"
            ) from None
