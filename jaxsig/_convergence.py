"""How a run ended, reported after it: a tolerance missed, or a run stopped because its
objective or its step stopped being finite (`ConvergenceWarning` for both, on concrete results
only)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import jax
import numpy as np

from jaxsig import _validate as check


class ConvergenceWarning(UserWarning):
    """A tolerance was asked for and not reached within the allowed epochs, or a run stopped
    early because its objective or its step was not finite."""


def largest_feature(X) -> str:
    """``"the largest |X| entry is 3.9e+30, in column 1"``, computed on the host."""
    with jax.ensure_compile_time_eval():
        magnitudes = np.max(np.abs(np.asarray(X, np.float64)), axis=0)
    column = int(np.argmax(magnitudes))
    return f"the largest |X| entry is {magnitudes[column]:.3g}, in column {column}"


def warn_if_diverged(solver: str, residual, iterations, X, labels: Sequence[str]) -> None:
    """Warns once, naming each stopped run (``labels``: one per entry of the flattened
    ``residual``, e.g. output columns or sweep points; ``""`` for a lone run) and the epoch it
    stopped in."""
    if not check.is_concrete(residual, iterations):
        return
    stopped = np.isnan(np.asarray(residual)).ravel()
    if not stopped.any():
        return
    epochs = np.asarray(iterations).ravel() + 1
    named = [f"{labels[i]} in epoch {epochs[i]}".lstrip() for i in np.nonzero(stopped)[0][:5]]
    more = f" and {stopped.sum() - 5} more" if stopped.sum() > 5 else ""
    warnings.warn(
        f"{solver}: the objective or the step became non-finite ({', '.join(named)}{more}) "
        "and the run stopped there, returning the last parameters with a finite objective; "
        f"{largest_feature(X)}. Standardise the features, lower the learning rate, or add l2.",
        ConvergenceWarning,
        stacklevel=3,
    )
