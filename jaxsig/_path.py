"""Regularisation paths: one ``lax.scan`` over l2 values, each fit starting at the last optimum."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxsig import _setup
from jaxsig import _validate as check
from jaxsig._convergence import ConvergenceWarning
from jaxsig._model import Params
from jaxsig._solvers import _driver, _implicit
from jaxsig._solvers._base import Problem, Solver


class PathResult(NamedTuple):
    """Optima along the path, in the order the l2 values were given.

    Attributes:
      l2: the values, (P,).
      params: ``w`` (P, d) and ``b`` (P,).
      iterations, converged, gradient_norm: per value, as in `FitResult`.
    """

    l2: jax.Array
    params: Params
    iterations: jax.Array
    converged: jax.Array
    gradient_norm: jax.Array


@functools.partial(jax.jit, static_argnames=("solver", "epochs"))
def _scan(solver: Solver, problem: Problem, start: Params, l2s, tol, *, epochs: int):
    """The path's optima, each with the derivatives of an optimum (`_implicit`): the warm-started
    loop itself is not differentiated."""
    loop_problem, start, loop_l2s = jax.lax.stop_gradient((problem, start, l2s))

    def point(params, l2):
        run = _driver.solve(
            solver,
            loop_problem._replace(l2=l2),
            params,
            None,
            tol,
            epochs=epochs,
            until_tolerance=True,
        )
        return run.params, (run.params, run.iterations, run.converged, run.residual)

    _, (fitted, *out) = jax.lax.scan(point, start, loop_l2s)
    fitted = jax.vmap(lambda p, l2: _implicit.optimum(p, problem._replace(l2=l2)))(fitted, l2s)
    return fitted, *out


def path(
    X: ArrayLike,
    y: ArrayLike,
    l2: ArrayLike,
    *,
    solver: Literal["newton", "lbfgs"] = "newton",
    tol: ArrayLike = 1e-8,
    epochs: int = 100,
    sample_weight: ArrayLike | None = None,
    class_weight: str | Mapping[int, float] | None = None,
    fit_intercept: bool = True,
    params: Params | None = None,
) -> PathResult:
    """Fits every ``l2`` to ``tol``, strongest penalty first, each from the previous optimum.

    Warm starts make most points a few Newton steps (scikit-learn's ``warm_start``, inside one
    compiled ``lax.scan``). ``tol`` bounds the largest gradient entry at each point, as in `fit`;
    ``epochs`` is the most iterations per point.

    >>> import jax.numpy as jnp, jaxsig
    >>> X = jnp.array([[0.0], [1.0], [2.0], [3.0]]); y = jnp.array([0.0, 1.0, 0.0, 1.0])
    >>> result = jaxsig.path(X, y, [1.0, 0.1, 0.01], tol=1e-6)
    >>> bool(result.converged.all()), result.params.w.shape
    (True, (3, 1))
    """
    if solver not in ("newton", "lbfgs"):
        raise ValueError(f"path supports solver 'newton' or 'lbfgs', got {solver!r}")
    _setup.check_options(solver, None, None, None, tol, "closed_form", False, None, epochs)
    check.check_hyperparameter("tol", tol)
    setup = _setup.prepare(X, y, sample_weight, class_weight, fit_intercept, params)
    if setup.y.ndim != 1:
        raise ValueError(f"path needs one label column, got y of shape {setup.y.shape}")
    values = check.as_sweep_axis("l2", l2, low=0)
    concrete = check.is_concrete(values)  # a traced path sorts inside the trace
    order = np.argsort(-values, kind="stable") if concrete else jnp.argsort(-values, stable=True)
    work = setup.X.dtype
    problem = _setup.as_problem(setup, 0.0, 0.0, 0.0, jax.random.key(0))
    fitted, iterations, converged, residual = _scan(
        _setup.make_solver(solver, None, "closed_form", False, None),
        problem,
        setup.params,
        jnp.asarray(values[order], work),
        jnp.asarray(tol, work),
        epochs=epochs,
    )
    back = np.argsort(order) if concrete else jnp.argsort(order)
    fitted = Params(fitted.w[back], fitted.b[back] * setup.intercept)
    if check.is_concrete(converged) and not bool(np.all(converged)):
        missed = np.asarray(values)[order][~np.asarray(converged)]
        warnings.warn(
            f"{solver} did not reach tol={float(tol):g} in {epochs} iterations at "
            f"{missed.size} l2 value(s), e.g. {missed[0]:g}; raise epochs or loosen tol",
            ConvergenceWarning,
            stacklevel=2,
        )
    return PathResult(
        jnp.asarray(values, work),
        jax.tree.map(lambda a: a.astype(setup.dtype), fitted),
        iterations[back],
        converged[back],
        residual[back],
    )
