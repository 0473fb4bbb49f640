"""Newton's method with the closed-form Hessian: a (damped) Cholesky solve, then Armijo
backtracking."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_factor, cho_solve

from jaxsig._derivatives import augmented_gram
from jaxsig._model import Params
from jaxsig._solvers import _objective
from jaxsig._solvers._base import (
    Evaluation,
    Problem,
    Solver,
    evaluate,
    largest,
    moved,
    search,
    varying_like,
)

_ARMIJO = 1e-4
# Damping tried when the Hessian is numerically singular: mu = sqrt(eps) * max diag(H) * 100**j.
_DAMPING_TRIES = 12


def direction(h: jax.Array, g: jax.Array) -> jax.Array:
    """``-(H + mu I)^{-1} g`` for the smallest ``mu`` in ``{0, m, 100 m, ...}``,
    ``m = sqrt(eps) max diag(H)``, whose Cholesky factor is finite with pivots above ``eps`` of
    the largest (Levenberg-Marquardt damping: a constant or duplicated column, or separable data
    whose curvature has vanished, make ``H`` singular); ``-g / m`` if none is.

    The damped direction still descends, and it has no component along a null space that ``g``
    has none in (duplicated columns keep equal weights instead of drifting apart).
    """
    eps = jnp.finfo(h.dtype).eps
    scale = jnp.maximum(jnp.max(jnp.abs(jnp.diag(h))), jnp.finfo(h.dtype).tiny / eps)
    eye = jnp.eye(h.shape[0], dtype=h.dtype)

    def solve(mu):
        factor, lower = cho_factor(h + mu * eye)
        pivots = jnp.diag(factor) ** 2
        d = -cho_solve((factor, lower), g)
        sound = jnp.all(jnp.isfinite(d)) & (jnp.min(pivots) > eps * h.shape[0] * jnp.max(pivots))
        return d, sound

    def unsound(carry):
        _, _, sound, tries = carry
        return ~sound & (tries < _DAMPING_TRIES)

    def damp(carry):
        mu, _, _, tries = carry
        mu = jnp.where(mu == 0, jnp.sqrt(eps) * scale, 100 * mu)
        return (mu, *solve(mu), tries + 1)

    zero = jnp.zeros((), h.dtype)
    init = varying_like((zero, *solve(zero), jnp.zeros((), jnp.int32)), h, g)
    _, d, sound, _ = jax.lax.while_loop(unsound, damp, init)
    return jnp.where(sound, d, -g / (jnp.sqrt(eps) * scale))


def system(problem: Problem, z: jax.Array) -> jax.Array:
    """Hessian in ``(w, b)`` at the parameters whose logits are ``z``; with the intercept off
    its row and column become the identity's."""
    c = problem.u * _objective.curvature(z)
    h = augmented_gram(problem.X, c, problem.l2)
    keep = jnp.ones(h.shape[0], h.dtype).at[-1].set(problem.intercept)
    return h * jnp.outer(keep, keep) + jnp.diag(1 - keep)


@functools.cache
def newton() -> Solver:
    """``d = -H^{-1} g`` by Cholesky, damped where ``H`` is singular (`direction`); step ``t``
    halved from 1 until ``f(w + t d) <= f(w) + 1e-4 t g.d``. The state keeps the evaluation at
    the current parameters (their logits and gradient)."""

    def init(problem: Problem, params: Params) -> Evaluation:
        return evaluate(problem, params)

    def step(problem: Problem, params: Params, here: Evaluation):
        g = jnp.append(here.grad.w, here.grad.b)
        d = direction(system(problem, here.z), g)
        move = Params(d[:-1], d[-1])
        t, z = search(problem, params, here, move, jnp.ones((), g.dtype), _ARMIJO)
        new = moved(params, move, t)
        return new, evaluate(problem, new, z), here.value, largest(here.grad)

    return Solver(init, step)
