"""Complete and quasi-complete separation, found by a linear programme (Konis, 2007).

The logistic likelihood has no maximum exactly when some direction ``beta != 0`` puts every
row on its label's side or on the boundary: ``s_i x~_i^T beta >= 0`` with ``s_i = +1`` for
``y_i = 1`` and ``-1`` for ``y_i = 0`` (a soft label pins its row to the boundary). Maximising
``sum_i s_i x~_i^T beta`` over ``|beta_j| <= 1`` finds such a direction when there is one; the
coefficients it moves are those without a finite estimate, and the rows it puts strictly on
their side are predicted perfectly. Solved on the host by SciPy's HiGHS (SciPy comes with JAX).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jax.typing import ArrayLike

from jaxsig._degenerate import DegenerateDataWarning

# |beta_j| and s_i x~_i^T beta (columns scaled to unit largest entry) below this count as 0.
_TOLERANCE = 1e-7


class PerfectSeparationWarning(DegenerateDataWarning):
    """The classes are (quasi-)completely separated: some weights have no finite estimate."""


class Separation(NamedTuple):
    """``separated``: a direction of separation exists; ``complete``: it separates every row;
    ``columns``: coefficient indices it moves (the intercept is index d); ``rows``: the rows it
    predicts perfectly; ``direction``: the direction (coefficient order, unit largest entry)."""

    separated: bool
    complete: bool
    columns: tuple[int, ...]
    rows: np.ndarray
    direction: np.ndarray


def separation(
    X: ArrayLike,
    y: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    fit_intercept: bool = True,
) -> Separation:
    """Whether ``y`` (n,) is (quasi-)completely separated by the columns of ``X`` (n, d) (and
    the intercept), and which coefficients and rows that concerns. Rows of weight 0 do not
    count. Concrete arrays only (it runs on the host)."""
    from scipy.optimize import linprog

    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    keep = np.ones(len(y), bool) if sample_weight is None else np.asarray(sample_weight) > 0
    rows_kept = np.nonzero(keep)[0]
    design = X[keep]
    if fit_intercept:
        design = np.concatenate([design, np.ones((design.shape[0], 1))], axis=1)
    scale = np.max(np.abs(design), axis=0)
    scale[scale == 0] = 1.0
    design = design / scale
    labels = y[keep]
    hard = (labels == 0) | (labels == 1)
    signed = design[hard] * np.where(labels[hard] == 1, 1.0, -1.0)[:, None]
    k = design.shape[1]
    none = Separation(False, False, (), np.array([], int), np.zeros(k))
    if signed.shape[0] == 0:
        return none
    soft = design[~hard]
    box = [(-1, 1)] * k

    def solve(objective, A_ub, bounds):
        extra = {}
        if soft.shape[0]:  # soft labels pin their rows to the boundary
            pad = np.zeros((soft.shape[0], A_ub.shape[1] - k))
            extra = {"A_eq": np.c_[soft, pad], "b_eq": np.zeros(soft.shape[0])}
        result = linprog(
            objective,
            A_ub=A_ub,
            b_ub=np.zeros(A_ub.shape[0]),
            bounds=bounds,
            method="highs",
            **extra,
        )
        return result.x if result.status == 0 else None

    # 1. Some direction with every row on its side or the boundary, and one strictly on its side.
    beta = solve(-signed.sum(axis=0), -signed, box)
    if beta is None or signed.sum(axis=0) @ beta <= _TOLERANCE * signed.shape[0]:
        return none
    # 2. Complete: a direction with every row strictly on its side (max t, s_i x_i beta >= t).
    with_margin = np.c_[-signed, np.ones(signed.shape[0])]
    margin = solve(np.r_[np.zeros(k), -1.0], with_margin, [*box, (None, 1)])
    complete = bool(hard.all()) and margin is not None and margin[-1] > _TOLERANCE
    # 3. The coefficients some such direction moves: all of them under complete separation;
    #    otherwise those with max |beta_j| > 0 over the directions of step 1.
    if complete:
        columns = tuple(range(k))
        beta = margin[:k]
    else:
        moved = [
            j
            for j in range(k)
            if any(
                (x := solve(sign * np.eye(k)[j], -signed, box)) is not None
                and abs(x[j]) > _TOLERANCE
                for sign in (-1.0, 1.0)
            )
        ]
        columns = tuple(moved)
    beta = beta / np.max(np.abs(beta))
    perfect = rows_kept[np.nonzero(hard)[0][signed @ beta > _TOLERANCE]]
    direction = beta / scale
    return Separation(True, complete, columns, perfect, direction / np.max(np.abs(direction)))


def describe(found: Separation, names) -> str:
    """One sentence on a separation, naming coefficients by ``names`` (d features, then the
    intercept)."""
    kind = "completely" if found.complete else "quasi-completely"
    listed = ", ".join(repr(names[j]) for j in found.columns)
    return (
        f"the classes are {kind} separated: {len(found.rows)} row(s) are predicted perfectly "
        f"along a direction of {listed}; those weights have no finite maximum-likelihood "
        "estimate and their standard errors, tests and intervals mean nothing (drop or merge "
        "those columns, or use l2 > 0 and jaxsig.bootstrap)"
    )
