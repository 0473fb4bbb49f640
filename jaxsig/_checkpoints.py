"""Solver states as leaves named by their path in the pytree, and back: for resuming a fit from a
state in memory or from a checkpoint file, against the structure this fit would start from."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class Checkpoint(NamedTuple):
    """A fit's state as read from a file by `jaxsig.io.load_state`: its leaves by path, and the
    metadata saved beside them. `jaxsig.fit` takes it as ``resume``, rebuilding the pytree."""

    leaves: dict[str, Any]
    metadata: dict[str, Any]


def by_path(tree) -> dict[str, Any]:
    """Leaves keyed by their path (``jax.tree_util.keystr``), e.g. ``.solver_state.rho``."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(path): leaf for path, leaf in flat}


def _kind(leaf) -> str:
    dtype = jnp.result_type(leaf) if not hasattr(leaf, "dtype") else leaf.dtype
    return str(dtype)


def restore(given, template, name: str = "resume"):
    """``given`` (a state pytree or a `Checkpoint`) rebuilt with ``template``'s structure, once
    every leaf's path, shape and dtype agree with it; a ``ValueError`` naming the first that
    does not. A key array may come as its key data (uint32), as a file holds it."""
    leaves = given.leaves if isinstance(given, Checkpoint) else by_path(given)
    expected, treedef = jax.tree_util.tree_flatten_with_path(template)
    paths = [jax.tree_util.keystr(path) for path, _ in expected]
    missing = [p for p in paths if p not in leaves]
    extra = [p for p in leaves if p not in set(paths)]
    if missing or extra:
        problem = f"lacks {missing[0]}" if missing else f"has {extra[0]}, which this fit has not"
        raise ValueError(
            f"{name} does not fit this fit's solver state: it {problem} (a state from another "
            "solver, optimizer, number of features or outputs, or held-out setting?)"
        )
    restored = []
    for path, (_, like) in zip(paths, expected, strict=True):
        leaf = leaves[path]
        if jnp.issubdtype(like.dtype, jax.dtypes.prng_key) and not _is_key(leaf):
            leaf = _as_key(leaf, like, f"{name} {path}")
        if jnp.shape(leaf) != like.shape or _kind(leaf) != str(like.dtype):
            raise ValueError(
                f"{name} {path} is {_kind(leaf)}{list(jnp.shape(leaf))} but this fit's state "
                f"holds {like.dtype}{list(like.shape)} there"
            )
        restored.append(jnp.asarray(leaf) if not _is_key(leaf) else leaf)
    return jax.tree_util.tree_unflatten(treedef, restored)


def _is_key(leaf) -> bool:
    return hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


@functools.cache
def key_impls() -> dict[str, str]:
    """Key dtypes (``key<fry>``) and the names of their implementations (``threefry2x32``)."""
    names = ("threefry2x32", "rbg", "unsafe_rbg")
    return {str(jax.random.key(0, impl=name).dtype): name for name in names}


def impl_name(key_dtype) -> str:
    return key_impls()[str(key_dtype)]


def _as_key(data, like, where: str):
    """Key data (uint32) as a key array of ``like``'s implementation."""
    expected = jax.eval_shape(jax.random.key_data, like)
    if jnp.shape(data) != expected.shape or _kind(data) != str(expected.dtype):
        raise ValueError(
            f"{where} is {_kind(data)}{list(jnp.shape(data))}, not the key data "
            f"{expected.dtype}{list(expected.shape)} of a {like.dtype}{list(like.shape)} key"
        )
    return jax.random.wrap_key_data(jnp.asarray(data), impl=impl_name(like.dtype))
