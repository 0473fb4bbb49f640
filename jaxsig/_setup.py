"""From a user's arguments to the solvers' inputs: options checked, data validated, weights,
penalties, held-out rows and the start. Shared by `fit`, `sweep`, `path` and `tune`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsig import _validate as check
from jaxsig._loss import row_weights
from jaxsig._model import Params, init
from jaxsig._solvers._base import Problem, Solver
from jaxsig._solvers._driver import Watch
from jaxsig._solvers.gd import gradient_descent
from jaxsig._solvers.lbfgs import lbfgs
from jaxsig._solvers.newton import newton
from jaxsig._solvers.optimizer import Optimizer, optax_solver
from jaxsig._solvers.proximal import fista
from jaxsig._solvers.sgd import minibatch_sgd

SolverName = Literal["gd", "sgd", "lbfgs", "newton", "fista"]
GradientMode = Literal["closed_form", "autodiff"]
Derivatives = Literal["optimum", "iterates"]

DEFAULT_LEARNING_RATE = 0.01

# The most epochs a loop counter (int32) can count.
MAX_EPOCHS = 2**31 - 1


def make_solver(
    solver: str,
    optimizer: Optimizer | None,
    gradient: GradientMode,
    line_search: bool,
    batch_size: int | None,
) -> Solver:
    closed_form = gradient == "closed_form"
    if solver == "gd":
        if optimizer is None:
            return gradient_descent(closed_form, line_search)
        return optax_solver(optimizer, closed_form)
    if solver == "sgd":
        return minibatch_sgd(optax.sgd if optimizer is None else optimizer, batch_size, closed_form)
    return {"lbfgs": lbfgs, "newton": newton, "fista": fista}[solver]()


def check_options(
    solver, optimizer, learning_rate, l1, tol, gradient, line_search, batch_size, epochs
) -> None:
    if solver not in ("gd", "sgd", "lbfgs", "newton", "fista"):
        raise ValueError(f"solver must be gd, sgd, lbfgs, newton or fista, got {solver!r}")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if epochs > MAX_EPOCHS:
        raise ValueError(f"epochs must be at most {MAX_EPOCHS} (2**31 - 1), got {epochs}")
    if gradient not in ("closed_form", "autodiff"):
        raise ValueError(f"gradient must be 'closed_form' or 'autodiff', got {gradient!r}")
    if gradient != "closed_form" and solver not in ("gd", "sgd"):
        raise ValueError(f"gradient applies to solver 'gd' or 'sgd', not {solver!r}")
    if optimizer is not None and solver not in ("gd", "sgd"):
        raise ValueError(f"optimizer applies to solver 'gd' or 'sgd', not {solver!r}")
    transformation = isinstance(optimizer, optax.GradientTransformation)
    if transformation and learning_rate is not None:
        raise ValueError(
            "learning_rate is set by the optax transformation; pass an optimizer factory "
            "(e.g. optax.adam) to give it here"
        )
    if optimizer is not None and not (callable(optimizer) or transformation):
        raise ValueError(f"optimizer must be an optax transformation or factory: {optimizer!r}")
    if learning_rate is not None and solver in ("lbfgs", "newton", "fista"):
        raise ValueError(f"solver {solver!r} chooses its own step; do not pass learning_rate")
    if l1 is not None and solver != "fista":
        raise ValueError("an l1 penalty needs solver='fista' (the others are smooth solvers)")
    if line_search and (solver != "gd" or optimizer is not None):
        raise ValueError("line_search applies to solver='gd' without an optimizer")
    if solver == "sgd":
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"solver='sgd' needs a positive int batch_size, got {batch_size!r}")
        if tol is not None:
            raise ValueError("solver='sgd' runs a fixed number of epochs: tol must be None")
    elif batch_size is not None:
        raise ValueError("batch_size applies to solver='sgd' only")


def check_penalty(name: str, value, n_features: int) -> None:
    """A penalty strength: a scalar or one per feature, finite and non-negative."""
    check.check_hyperparameter(name, value, shapes=((), (n_features,)))


def check_penalty_factor(value, n_features: int) -> None:
    """Per-coefficient penalty factors: one per feature, finite and non-negative."""
    if value is not None:
        check.check_hyperparameter("penalty_factor", value, shapes=((n_features,),))


def _class_weights(class_weight, y: jax.Array) -> np.ndarray | None:
    """Per-row weights from ``"balanced"`` (n / (2 n_c), as scikit-learn) or ``{0: a, 1: b}``."""
    if class_weight is None:
        return None
    if not check.is_concrete(y):
        raise ValueError("class_weight needs concrete labels; inside jit pass sample_weight")
    labels = np.asarray(y)
    if labels.ndim != 1 or not np.isin(labels, (0, 1)).all():
        raise ValueError("class_weight needs one column of hard labels 0 and 1")
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced' or a mapping, got {class_weight!r}")
        counts = np.bincount(labels.astype(int), minlength=2)
        per_class = labels.size / (2 * counts)
    elif isinstance(class_weight, Mapping):
        values = np.array(list(class_weight.values()), float)
        if set(class_weight) - {0, 1} or not (np.isfinite(values) & (values >= 0)).all():
            raise ValueError(f"class_weight keys must be 0 and 1, weights >= 0: {class_weight}")
        per_class = np.array([class_weight.get(0, 1.0), class_weight.get(1, 1.0)], float)
    else:
        raise ValueError(f"class_weight must be 'balanced' or a mapping, got {class_weight!r}")
    return per_class[labels.astype(int)]


class Setup(NamedTuple):
    """Validated data in the working dtype (float32 at least), shared by `fit` and sweeps."""

    X: jax.Array
    y: jax.Array
    v: jax.Array | None  # sample times class weights, unnormalised
    params: Params  # the start, intercept pinned at 0 when it is off
    intercept: jax.Array  # 1.0 or 0.0
    dtype: jnp.dtype  # the input's dtype, for the returned parameters
    offset: jax.Array | None = None  # added to every logit, (n,)


def prepare(X, y, sample_weight, class_weight, fit_intercept, params, offset=None) -> Setup:
    """Validates data, weights and the start; half precisions move to float32: 1 / n and small
    weights would be subnormal (flushed to zero on XLA:CPU) and LAPACK has no half-precision
    Cholesky or eigensolver."""
    X = check.as_features(X)
    y = check.as_labels(y, X)
    v = check.as_sample_weight(sample_weight, X)
    by_class = _class_weights(class_weight, y)
    if by_class is not None:
        v = check.as_sample_weight(by_class if v is None else v * by_class, X)
    if params is None:
        params = init(X.shape[1], None if y.ndim == 1 else y.shape[1], dtype=X.dtype)
    check.check_params(params, X, y)
    work = jnp.promote_types(X.dtype, jnp.float32)
    check.check_flag("fit_intercept", fit_intercept)
    intercept = jnp.asarray(fit_intercept, work)
    params = jax.tree.map(lambda a: jnp.asarray(a, work), params)
    params = params._replace(b=params.b * intercept)
    offset = check.as_offset(offset, X)
    return Setup(X.astype(work), y.astype(work), v, params, intercept, X.dtype, offset)


def offset_of(setup: Setup) -> jax.Array:
    """The setup's offset, zeros without one."""
    if setup.offset is None:
        return jnp.zeros(setup.X.shape[0], setup.X.dtype)
    return setup.offset.astype(setup.X.dtype)


def as_problem(setup: Setup, learning_rate, l1, l2, key: jax.Array, v=None) -> Problem:
    """The solvers' problem: ``setup``'s data, normalised row weights (``v`` in place of the
    setup's when given) and the hyperparameters."""
    work = setup.X.dtype
    return Problem(
        setup.X,
        setup.y,
        row_weights(setup.params, setup.X, setup.v if v is None else v),
        *(jnp.asarray(h, work) for h in (learning_rate, l1, l2)),
        setup.intercept,
        key,
        offset_of(setup),
    )


def as_watch(validation, setup: Setup, patience, min_delta) -> tuple[Watch, jax.Array | None]:
    """Held-out rows for early stopping, and the training rows' weights they leave (None: the
    setup's). ``validation`` is ``(X, y)`` or ``(X, y, sample_weight)`` of separate rows, or a
    (n,) 0/1 mask of the training data's rows to hold out (weighted by the sample weights)."""
    if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
        raise ValueError(f"patience must be a positive int (epochs), got {patience!r}")
    check.check_hyperparameter("min_delta", min_delta)
    work = setup.X.dtype
    if isinstance(validation, tuple | list):
        if len(validation) not in (2, 3):
            raise ValueError(
                "validation must be (X, y), (X, y, sample_weight) or a (n,) mask of held-out "
                f"rows, got a sequence of {len(validation)}"
            )
        X_val = check.as_features(validation[0], "validation X")
        if X_val.shape[1] != setup.X.shape[1]:
            raise ValueError(
                f"validation X has {X_val.shape[1]} features but X has {setup.X.shape[1]}"
            )
        y_val = check.as_labels(validation[1], X_val, require_both_classes=False)
        if y_val.shape[1:] != setup.y.shape[1:]:
            raise ValueError(
                f"validation y has shape {y_val.shape} but y has {setup.y.shape}: the outputs "
                "must agree"
            )
        if setup.offset is not None:
            raise ValueError(
                "with an offset, validation must be a (n,) 0/1 mask of held-out training rows, "
                "whose offsets are known; separate (X, y) rows have none"
            )
        weight = validation[2] if len(validation) == 3 else None
        v_val = check.as_sample_weight(weight, X_val, "validation sample_weight")
        X_val, y_val, train = X_val.astype(work), y_val.astype(work), None
        offset_val = jnp.zeros(X_val.shape[0], work)
    else:
        mask = check.as_sample_weight(validation, setup.X, "validation")
        with check.concrete_scope(mask, setup.v) as concrete:
            held = (mask > 0).astype(work)
            base = jnp.ones(setup.X.shape[0], work) if setup.v is None else setup.v.astype(work)
            v_val, train = base * held, base * (1 - held)
            if concrete and float(jnp.sum(train)) <= 0:
                raise ValueError("validation holds out every row: none is left to train on")
        X_val, y_val, offset_val = setup.X, setup.y, offset_of(setup)
    u_val = row_weights(setup.params, X_val, v_val)
    return Watch(
        X_val,
        y_val,
        u_val,
        jnp.asarray(patience, jnp.int32),
        jnp.asarray(min_delta, work),
        offset_val,
    ), train


def check_concrete_for_progress(tree) -> None:
    if not check.is_concrete(tree):
        raise ValueError(
            "progress=True runs the loop in chunks from Python and needs concrete inputs; "
            "inside jit or vmap leave it off"
        )


def as_key(key) -> jax.Array:
    """A typed PRNG key from None (seed 0), an int seed, a typed key or a legacy uint32 key."""
    if key is None or isinstance(key, int):
        return jax.random.key(0 if key is None else key)
    if not jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(key)  # a legacy uint32 key: same stream, one trace
    return key


def check_derivatives(differentiate, watching: bool) -> Derivatives:
    """Which derivative a fit carries: the optimum's (implicit), or the iterates' (unrolled),
    which early stopping implies (its parameters are an iterate, not an optimum)."""
    if differentiate not in (None, "optimum", "iterates"):
        raise ValueError(f"differentiate must be 'optimum' or 'iterates', got {differentiate!r}")
    if watching and differentiate == "optimum":
        raise ValueError(
            "early stopping returns an iterate, not an optimum: its derivatives are the "
            "iterates' (differentiate='iterates')"
        )
    return differentiate or ("iterates" if watching else "optimum")
