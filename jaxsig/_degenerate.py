"""Degenerate data, diagnosed after a fit: features whose weights no data determine, features so
large that the curvature overflows, and classes that a hyperplane separates.

Without an L2 penalty each makes the objective's minimiser not unique or not finite, and Newton's
Hessian singular. Newton damps it and returns finite parameters; this says, after a Newton fit,
why the weights are what they are, once per cause, with `DegenerateDataWarning`, on concrete data
only. (First-order solvers started at zero stay finite and even on such data without a word.)
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jaxsig import _validate as check
from jaxsig._model import Params

# Collinearity is looked for while the float64 Gram matrix costs at most this many multiply-adds
# (n d**2: a fraction of a second on the host).
MAX_GRAM_WORK = 5e8


class DegenerateDataWarning(UserWarning):
    """The data leave some weights undetermined or unbounded; ``columns`` names the features
    (indices into X), empty for separation."""

    def __init__(self, message: str, columns: tuple[int, ...] = ()):
        super().__init__(message)
        self.columns = columns


def _warn(message: str, columns=()) -> None:
    warnings.warn(DegenerateDataWarning(message, tuple(int(c) for c in columns)), stacklevel=4)


def named_columns(columns) -> str:
    """``X columns 1, 4`` or ``X column 1``: how the warnings name ``columns`` (the command line
    replaces it with feature names)."""
    return f"X column{'s' * (len(columns) > 1)} {', '.join(map(str, columns))}"


def _listed(columns, verb: str = "are") -> str:
    """``X columns 1, 4 are`` or ``X column 1 is`` (``verb`` in its plural form)."""
    singular = {"are": "is", "reach": "reaches"}[verb]
    return f"{named_columns(columns)} {verb if len(columns) > 1 else singular}"


def warn_if_degenerate(X, y, v, params: Params, l2, intercept) -> None:
    """Warns for each cause of a non-unique or unbounded unpenalised optimum that ``X``, the
    labels ``y`` (one column) and the row weights ``v`` show at the fitted ``params``."""
    if not all(check.is_concrete(a) for a in (X, y, l2, intercept, params.w, params.b)):
        return
    with jax.ensure_compile_time_eval():
        if np.any(np.asarray(l2) != 0) or np.ndim(y) != 1:
            return
        X = np.asarray(X, np.float64)
        rows = slice(None) if v is None else np.asarray(v) > 0
        X, y = X[rows], np.asarray(y, np.float64)[rows]
        with_intercept = bool(np.asarray(intercept) != 0)
        z = np.asarray(jnp.asarray(X) @ params.w + params.b * intercept, np.float64)
    limit = np.sqrt(np.finfo(params.w.dtype).max / max(X.shape[0], 1))
    huge = np.nonzero(np.max(np.abs(X), axis=0) > limit)[0]
    if huge.size:
        _warn(
            f"{_listed(huge, 'reach')} {np.max(np.abs(X[:, huge])):.3g}: the curvature overflows "
            f"{params.w.dtype} and those weights stay unfitted; standardise the features",
            huge,
        )
    constant = np.nonzero(np.ptp(X, axis=0) == 0)[0] if with_intercept else np.array([], int)
    if constant.size:
        _warn(
            f"{_listed(constant)} constant: beside the intercept their weights are not "
            "determined by the data (drop them, or use l2 > 0)",
            constant,
        )
    varying = np.setdiff1d(np.arange(X.shape[1]), np.r_[constant, huge])
    if varying.size > 1 and X.shape[0] * varying.size**2 <= MAX_GRAM_WORK:
        part = X[:, varying]
        if with_intercept:
            part = part - part.mean(axis=0)
        part = part / np.maximum(np.linalg.norm(part, axis=0), np.finfo(np.float64).tiny)
        values, vectors = np.linalg.eigh(part.T @ part)
        null = values < 1e-10 * max(values.max(), 1.0)
        if null.any():
            involved = varying[np.linalg.norm(vectors[:, null], axis=1) > 1e-6]
            _warn(
                f"{_listed(involved)} collinear"
                + (" with the intercept" if with_intercept else "")
                + ": some combination of their weights is not determined by the data "
                "(one-hot categories beside an intercept: drop one per feature; or use l2 > 0)",
                involved,
            )
    hard = np.all((y == 0) | (y == 1))
    if hard and 0 < y.sum() < y.size and np.all((2 * y - 1) * z > 0):
        _warn(
            "the classes are separable: every row is on its side of the fitted hyperplane, so "
            "the unpenalised weights grow without bound as the fit goes on; use l2 > 0"
        )
