"""Plots for people: the sigmoid, training, decision boundary, ROC, calibration, sweeps.

Needs matplotlib (``pip install 'jaxsig[plot]'``), imported only when a function draws. Each
function draws on ``ax`` when given, else on a new figure of its own (matplotlib's object API
with the Agg canvas: no pyplot, no window), and returns the ``Axes``; `save` writes a PNG.

>>> import jax.numpy as jnp, jaxsig
>>> from jaxsig import plot
>>> ax = plot.roc(jnp.array([0, 0, 1, 1]), jnp.array([0.1, 0.4, 0.35, 0.8]))
>>> ax.get_legend_handles_labels()[1]
['ROC (AUC = 0.750)', 'chance']
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxsig import _primitives, metrics
from jaxsig._files import atomic_path
from jaxsig._model import Params
from jaxsig._predict import predict_proba

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MISSING = "jaxsig.plot needs matplotlib: pip install 'jaxsig[plot]'"


def _axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new figure on the Agg canvas."""
    if ax is not None:
        return ax
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(MISSING) from error
    figure = Figure(layout="constrained")
    FigureCanvasAgg(figure)
    return figure.add_subplot()


def _diagonal(ax: Axes, label: str) -> None:
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label=label)
    # a margin, so that a curve along an edge (an AUC near 1) stays visible
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal")


def sigmoid(ax: Axes | None = None) -> Axes:
    """``sigmoid(x)`` and its derivative ``sigmoid(x) sigmoid(-x)`` on ``[-8, 8]``."""
    ax = _axes(ax)
    x = jnp.linspace(-8.0, 8.0, 401)
    s = _primitives.sigmoid(x)
    ax.plot(x, s, label="sigmoid(x)")
    ax.plot(x, s * _primitives.sigmoid(-x), label="sigmoid'(x) = sigmoid(x) sigmoid(-x)")
    ax.set(xlabel="x", title="The sigmoid and its derivative")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return ax


def loss_curve(history: ArrayLike, ax: Axes | None = None) -> Axes:
    """The training objective entering each epoch (`FitResult.history`: (epochs,) or
    (epochs, k), one line per output; the NaN after a tolerance stop is not drawn)."""
    history = np.asarray(history, np.float64)
    if history.ndim not in (1, 2):
        raise ValueError(f"history must be (epochs,) or (epochs, k), got shape {history.shape}")
    ax = _axes(ax)
    lines = ax.plot(np.arange(history.shape[0]), history)
    if history.ndim == 2:
        for k, line in enumerate(lines):
            line.set_label(f"output {k}")
        ax.legend(fontsize="small")
    ax.set(xlabel="epoch", ylabel="objective", title="Training objective")
    ax.grid(True, alpha=0.3)
    return ax


def decision_boundary(params: Params, X: ArrayLike, y: ArrayLike, ax: Axes | None = None) -> Axes:
    """The points of two features coloured by label over the model's probability, with the
    boundary ``p = 1/2`` (the line ``w . x + b = 0``)."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2 or np.shape(params.w) != (2,):
        raise ValueError(
            f"decision_boundary draws two features of one output: X is {X.shape}, "
            f"params.w {np.shape(params.w)}; need (n, 2) and (2,)"
        )
    ax = _axes(ax)
    low, high = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * np.where(high > low, high - low, 1.0)
    g0, g1 = np.meshgrid(*(np.linspace(low[j] - pad[j], high[j] + pad[j], 200) for j in (0, 1)))
    grid = np.stack([g0.ravel(), g1.ravel()], axis=1).astype(np.asarray(params.w).dtype)
    p = np.asarray(predict_proba(params, grid), np.float64).reshape(g0.shape)
    filled = ax.contourf(g0, g1, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35)
    ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1.5)
    ax.scatter(
        X[:, 0],
        X[:, 1],
        c=np.asarray(y),
        cmap="RdBu_r",
        vmin=0,
        vmax=1,
        s=18,
        edgecolors="k",
        linewidths=0.5,
    )
    ax.figure.colorbar(filled, ax=ax, label="P(y = 1)")
    ax.set(xlabel="feature 0", ylabel="feature 1", title="Decision boundary, p = 1/2")
    return ax


def roc(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    ax: Axes | None = None,
) -> Axes:
    """The ROC curve (`metrics.roc_curve`) with its area (`metrics.roc_auc`) in the legend."""
    fpr, tpr, _ = metrics.roc_curve(y_true, y_score, sample_weight=sample_weight)
    auc = float(metrics.roc_auc(y_true, y_score, sample_weight=sample_weight))
    ax = _axes(ax)
    ax.plot(fpr, tpr, label=f"ROC (AUC = {auc:.3f})")
    _diagonal(ax, "chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def calibration(
    y_true: ArrayLike, y_prob: ArrayLike, *, n_bins: int = 10, ax: Axes | None = None
) -> Axes:
    """Reliability diagram: per uniform bin (`metrics.calibration_curve`), the fraction of
    positives against the mean predicted probability, with the ECE in the legend."""
    mean, fraction, _ = metrics.calibration_curve(y_true, y_prob, n_bins=n_bins)
    ece = float(metrics.expected_calibration_error(y_true, y_prob, n_bins=n_bins))
    ax = _axes(ax)
    ax.plot(mean, fraction, marker="o", label=f"model (ECE = {ece:.3f})")
    _diagonal(ax, "perfectly calibrated")
    ax.set(xlabel="mean predicted probability", ylabel="fraction of positives", title="Calibration")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def validation_curve(
    values: ArrayLike,
    mean: ArrayLike,
    std: ArrayLike | None = None,
    *,
    name: str = "l2",
    metric: str = "log_loss",
    best: float | None = None,
    diverged: ArrayLike | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A held-out metric against a hyperparameter on a log axis (`CrossValidation`'s ``mean``
    and ``std``), a band of one standard deviation, the ``best`` value marked, and the points
    that ``diverged`` (`CrossValidation.diverged`, a (Q,) mask) drawn as red crosses at their
    metric, or at the largest finite mean where theirs is not finite."""
    values, mean = np.asarray(values, np.float64), np.asarray(mean, np.float64)
    if values.ndim != 1 or values.shape != mean.shape:
        raise ValueError(f"values and mean must be 1-D of one length: {values.shape}, {mean.shape}")
    if not np.all(values > 0):
        raise ValueError(f"validation_curve draws a log axis: {name} values must be > 0")
    stopped = None if diverged is None else np.asarray(diverged, bool)
    if stopped is not None and stopped.shape != values.shape:
        raise ValueError(f"diverged must be a mask of the {values.size} values")
    order = np.argsort(values)
    values, mean = values[order], mean[order]
    stopped = None if stopped is None else stopped[order]
    ax = _axes(ax)
    ax.plot(values, mean, marker="o", markersize=3, label=f"mean {metric}")
    if stopped is not None and stopped.any():
        finite = np.isfinite(mean)
        top = np.max(mean[finite]) if finite.any() else 0.0
        shown = np.where(finite, mean, top)[stopped]
        ax.plot(
            values[stopped], shown, "x", color="red", ms=8, mew=2, label="diverged (stopped early)"
        )
    if std is not None:
        spread = np.asarray(std, np.float64)[order]
        ax.fill_between(values, mean - spread, mean + spread, alpha=0.25, label="± 1 std")
    if best is not None:
        ax.axvline(best, linestyle="--", color="k", linewidth=1, label=f"best {name} = {best:.3g}")
    ax.set_xscale("log")
    ax.set(xlabel=name, ylabel=f"held-out {metric}", title="Validation curve")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def save(ax_or_figure: Axes | Figure, path: str | os.PathLike[str]) -> None:
    """Write the figure as a PNG at ``path`` atomically (a complete file or the old one), then
    close it: a figure that pyplot made is released from pyplot."""
    figure = ax_or_figure.figure  # the root figure, for an Axes, a SubFigure or a Figure
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", bbox_inches="tight")
    if figure.canvas.manager is not None:  # made by pyplot, which holds it until closed
        import matplotlib.pyplot as plt

        plt.close(figure)
