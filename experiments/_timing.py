"""Timing shared by the benchmarks: interleaved calls, compile apart, medians."""

from __future__ import annotations

import time

import jax
import numpy as np


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
