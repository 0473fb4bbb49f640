"""What a sweep will cost before it runs: work and memory per point for each solver, the memory
the machine has, and the default solver for a sweep (the cheapest that fits).

Calibrated on `cross_validate` sweeps (16 l2 values x 5 folds, float32, a 2-core AVX2 CPU): a
Newton epoch forms every point's Hessian, ``n d^2`` multiply-adds, and a sweep takes 4 to 10
of them; an L-BFGS epoch is about ``10 n d`` (its evaluations, vmapped over the points, become
matrix products), and a sweep takes 25 to 80. Newton was 1.5 times faster at 40 features, L-BFGS
2.7 times at 120 and 7 times at 300 (w8a): the break-even lies near 60 features. Memory per
point, measured as the peak resident size against one point: Newton about 24 row-vectors and
three Hessians, L-BFGS 2 row-vectors, gradient descent 4; the data themselves once.
"""

from __future__ import annotations

import os

import jax

_EPOCHS = {"newton": 6, "lbfgs": 40}
_EPOCH_WORK = {"newton": lambda n, d: n * d * d + d**3 / 3, "lbfgs": lambda n, d: 10 * n * d}
_ROW_VECTORS = {"newton": 24, "lbfgs": 2, "gd": 4, "sgd": 4, "fista": 4}


def work(solver: str, n: int, d: int, points: int) -> float:
    """Multiply-adds a sweep of ``points`` takes with ``solver`` (newton or lbfgs), roughly."""
    return points * _EPOCHS[solver] * _EPOCH_WORK[solver](n, d)


def point_bytes(solver: str, n: int, d: int, itemsize: int) -> int:
    """Memory one more sweep point holds while it runs."""
    hessians = 3 * (d + 1) ** 2 if solver == "newton" else 0
    memory = 30 * (d + 1) if solver == "lbfgs" else 4 * (d + 1)
    return itemsize * (_ROW_VECTORS[solver] * n + hessians + memory)


def sweep_bytes(solver: str, n: int, d: int, points: int, itemsize: int) -> int:
    """The data once, and every point's own memory."""
    return itemsize * n * d + points * point_bytes(solver, n, d, itemsize)


def available_bytes() -> int | None:
    """Memory free for a sweep on the default device: the accelerator's limit less what it
    holds, or the host's available memory (``MemAvailable``); None when it cannot be told."""
    device = jax.local_devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_solver(n: int, d: int, points: int, itemsize: int) -> str:
    """The cheaper of newton and lbfgs by `work`, among those whose sweep fits in memory."""
    free = available_bytes()
    fitting = [
        s for s in ("newton", "lbfgs")
        if free is None or sweep_bytes(s, n, d, points, itemsize) <= free
    ]  # fmt: skip
    return min(fitting or ["lbfgs"], key=lambda s: work(s, n, d, points))


def _size(count: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{int(count)} bytes"


def check_fits(solver: str, n: int, d: int, points: int, itemsize: int) -> None:
    """Refuses, before anything compiles, a sweep that would need more memory than is free."""
    free = available_bytes()
    need = sweep_bytes(solver, n, d, points, itemsize)
    if free is None or need <= free:
        return
    per_point = point_bytes(solver, n, d, itemsize)
    fit = max((free - itemsize * n * d) // per_point, 0)
    raise ValueError(
        f"this sweep of {points} points with {solver} needs about {_size(need)} "
        f"({_size(per_point)} a point, and the data) but {_size(free)} is free: use at most "
        f"{fit} points (fewer --l2 values or --cv folds)"
        + (", or --solver lbfgs, which needs less a point" if solver == "newton" else "")
    )
