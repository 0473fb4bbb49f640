"""Data across devices and hosts: rows of X split over a mesh axis, with JAX's own runtime.

Only placement lives here. The solvers are unchanged: under ``jit`` XLA partitions ``X @ w``
by rows and inserts the all-reduce that ``X^T r`` and the Hessian's sums need.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike


def auto_axes(mesh: Mesh) -> Mesh:
    """The same devices and names with every axis ``AxisType.Auto``: XLA chooses how the sums
    over rows are reduced (an ``Explicit`` axis would ask every contraction for an output
    sharding)."""
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


def axis_of(mesh: Mesh, axis: str | None) -> str:
    axis = mesh.axis_names[0] if axis is None else axis
    if axis not in mesh.axis_names:
        raise ValueError(f"axis {axis!r} is not an axis of the mesh {mesh.axis_names}")
    return axis


def shard_rows(
    mesh: Mesh, *arrays: ArrayLike | None, axis: str | None = None
) -> tuple[jax.Array | None, ...]:
    """Places each array's rows over ``axis`` of ``mesh`` (default: its first axis).

    With one process the arrays are the whole data. With several (after
    ``jax.distributed.initialize``) each process passes its own rows, the same number in every
    process, and gets global arrays back. The global row count must be a multiple of the axis
    size. None passes through (say, no sample weights).

    >>> import jax, numpy as np, jaxsig
    >>> mesh = jax.make_mesh((1,), ("rows",))
    >>> X, y = jaxsig.shard_rows(mesh, np.ones((4, 2)), np.array([0.0, 1.0, 1.0, 0.0]))
    >>> X.sharding.spec
    P('rows',)
    """
    axis = axis_of(mesh, axis)
    mesh = auto_axes(mesh)
    devices = mesh.shape[axis]
    sharding = NamedSharding(mesh, P(axis))
    placed = []
    for a in arrays:
        if a is None:
            placed.append(None)
            continue
        local = np.asarray(a)
        rows = local.shape[0] * jax.process_count()
        if local.ndim == 0 or rows % devices:
            raise ValueError(
                f"shard_rows: {rows} rows (shape {local.shape} in each of "
                f"{jax.process_count()} process(es)) do not divide over the {devices} devices of "
                f"mesh axis {axis!r}; drop or pad rows (a padded row needs sample weight 0)"
            )
        if jax.process_count() == 1:
            placed.append(jax.device_put(local, sharding))
        else:
            placed.append(jax.make_array_from_process_local_data(sharding, local))
    return tuple(placed)
