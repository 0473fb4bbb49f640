"""Timing shared by the benchmarks: interleaved calls, compile apart, medians."""

from __future__ import annotations

import ctypes
import sys
import time

import jax
import numpy as np


def _steady_allocator() -> None:
    """Keep freed buffers for reuse. glibc hands blocks of 32 MiB and more back to the system on
    every free, so a function whose output is that large (4,000,000 float64) page-faults its
    output in on every call: about 10 ms per call here, on both sides of a comparison, which is
    no cost of the function. Raising the thresholds (M_MMAP_THRESHOLD, M_TOP_PAD,
    M_TRIM_THRESHOLD) keeps those buffers."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
        except OSError:
            return
        for option, value in ((-3, 1 << 30), (-2, 1 << 28), (-1, 1 << 30)):
            libc.mallopt(option, value)


_steady_allocator()


def interleaved(calls: dict, repeats: int) -> tuple[dict, dict]:
    """First-call seconds and medians of steady calls, the calls alternating in each round."""
    first = {}
    for name, call in calls.items():
        start = time.perf_counter()
        jax.block_until_ready(call())
        first[name] = time.perf_counter() - start
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(call())
            times[name].append(time.perf_counter() - start)
    return first, {name: float(np.median(t)) for name, t in times.items()}
