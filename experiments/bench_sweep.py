"""Sweep speed, measured side by side in one process: a table on stdout, JSON with --json.

64 values of C in logspace(-4, 4), every point to scikit-learn's optimum within 1e-6 relative
objective (float64; the gap of every method at every point is measured and printed):
  synthetic  --rows x 50: jaxsig including compilation (persistent cache off, and a second
             process with a warm persistent cache) and steady, vs the best scikit-learn loop
  small      breast cancer, steady state
  memory     peak resident memory of a 256-point sweep on --rows x 50 (subprocess)
scikit-learn loops: warm-started newton-cholesky, warm-started lbfgs, and LogisticRegressionCV
(newton-cholesky and lbfgs) with one "fold" that trains and validates on all rows.

    python experiments/bench_sweep.py [--rows 100000] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import warnings

os.environ["JAXSIG_COMPILATION_CACHE"] = "0"  # measure real compilations (re-enabled below)

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from bench_solvers import synthetic, timed  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV  # noqa: E402

import jaxsig  # noqa: E402

CS = np.logspace(-4, 4, 64)
TOL = 1e-8  # largest gradient entry, both sides; every gap is printed against 1e-6


def sklearn_loops(X, y) -> dict:
    """name -> (seconds, coefficients (64, d), intercepts (64,))."""
    out = {}
    for solver in ("newton-cholesky", "lbfgs"):
        model = LogisticRegression(solver=solver, tol=TOL, max_iter=10_000, warm_start=True)
        start = time.perf_counter()
        coefs, intercepts = [], []
        for C in CS:
            model.set_params(C=C).fit(X, y)
            coefs.append(model.coef_[0].copy())
            intercepts.append(model.intercept_[0])
        out[f"sklearn warm {solver}"] = (time.perf_counter() - start, np.array(coefs), intercepts)
        every = np.arange(len(y))
        start = time.perf_counter()
        cv = LogisticRegressionCV(
            Cs=CS, cv=[(every, every)], solver=solver, tol=TOL, max_iter=10_000, refit=False
        ).fit(X, y)
        seconds = time.perf_counter() - start
        path = cv.coefs_paths_[1][0] if isinstance(cv.coefs_paths_, dict) else cv.coefs_paths_
        path = np.asarray(path).reshape(len(CS), -1)
        out[f"sklearn LogisticRegressionCV {solver}"] = (seconds, path[:, :-1], path[:, -1])
    return out


def jaxsig_runs(X, y):
    """name -> function returning Params (64 points)."""
    n = len(y)
    l2 = 1 / (CS * n)
    X, y = jnp.asarray(X), jnp.asarray(y)
    return {
        "jaxsig path lbfgs": lambda: jaxsig.path(X, y, l2, solver="lbfgs", tol=TOL, epochs=1000),
        "jaxsig path newton": lambda: jaxsig.path(X, y, l2, solver="newton", tol=TOL),
        "jaxsig sweep newton (vmap)": lambda: jaxsig.sweep(
            X, y, solver="newton", l2=l2, tol=TOL, epochs=100
        ),
    }


def gaps(X, y, solutions: dict) -> dict:
    """Largest relative objective gap over the 64 points, per method, against the best value
    any method reached at that point."""
    objective = jax.jit(
        jax.vmap(lambda w, b, l2: jaxsig.objective(jaxsig.Params(w, b), X, y, l2=l2))
    )
    l2 = jnp.asarray(1 / (CS * len(y)))
    values = {
        name: np.asarray(objective(jnp.asarray(w), jnp.asarray(b), l2))
        for name, (w, b) in solutions.items()
    }
    best = np.min(np.stack(list(values.values())), axis=0)
    return {name: float(np.max((v - best) / best)) for name, v in values.items()}


_CACHED_PROBE = """
import os, sys, time
sys.path.insert(0, {here!r})
import jax
jax.config.update("jax_enable_x64", True)
import jaxsig, numpy as np
from bench_solvers import synthetic
X, y = synthetic({rows}, 50, np.float64)
start = time.perf_counter()
jax.block_until_ready(jaxsig.path(X, y, 1 / (np.logspace(-4, 4, 64) * {rows}), solver="lbfgs",
                                  tol={tol}, epochs=1000).params)
print(time.perf_counter() - start)
"""


def first_call_with_warm_cache(rows: int) -> float:
    """First path call in a new process whose persistent cache a previous process filled."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, JAXSIG_COMPILATION_CACHE="1", XDG_CACHE_HOME=cache)
        code = _CACHED_PROBE.format(here=str(pathlib.Path(__file__).parent), rows=rows, tol=TOL)
        seconds = []
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            seconds.append(float(done.stdout))
    return seconds[1]


def case(name: str, X, y, repeats: int, rows_out: list, with_compile: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        baselines = sklearn_loops(X, y)
    ours = {}
    for method, run in jaxsig_runs(X, y).items():
        first, steady = timed(lambda run=run: run().params, repeats)
        ours[method] = (first, steady, run().params)
    solutions = {k: (v[1], v[2]) for k, v in baselines.items()}
    solutions.update({k: (np.asarray(v[2].w), np.asarray(v[2].b)) for k, v in ours.items()})
    gap = gaps(X, y, solutions)
    best_name = min(baselines, key=lambda k: baselines[k][0])
    best = baselines[best_name][0]
    for method, (seconds, _, _) in baselines.items():
        rows_out.append(
            dict(section=name, method=method, gap=gap[method], steady_s=seconds, first_s=seconds)
        )
    for method, (first, steady, _) in ours.items():
        row = dict(
            section=name,
            method=method,
            gap=gap[method],
            steady_s=steady,
            first_s=first,
            compile_s=first - steady,
            baseline=best_name,
            baseline_s=best,
            speedup_steady=best / steady,
            speedup_with_compile=best / first,
        )
        if with_compile and method == "jaxsig path lbfgs":
            warm = first_call_with_warm_cache(X.shape[0])
            row.update(first_warm_cache_s=warm, speedup_warm_cache=best / warm)
        rows_out.append(row)


_MEMORY_PROBE = """
import pathlib, sys
import jax
jax.config.update("jax_enable_x64", True)
import jaxsig, numpy as np


def status(field):
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024


rows = int(sys.argv[1])
rng = np.random.default_rng(0)
X = rng.normal(size=(rows, 50)); y = (X[:, 0] + rng.normal(size=rows) > 0) * 1.0
jax.block_until_ready(jaxsig.sigmoid(1.0))
pathlib.Path("/proc/self/clear_refs").write_text("5")
baseline = status("VmRSS")
result = jaxsig.sweep(X, y, solver="newton", l2=np.logspace(-8, 0, 256), tol=1e-8, epochs=50)
jax.block_until_ready(result.params)
print(status("VmHWM") - baseline, int(result.converged.sum()))
"""


def memory_case(rows: int, rows_out: list) -> None:
    """Peak resident memory of a 256-point Newton sweep above the process holding X."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(rows)], capture_output=True, text=True, check=True
    )
    peak, converged = map(int, done.stdout.split())
    x_bytes = rows * 50 * 8
    rows_out.append(
        dict(
            section="memory",
            method=f"256-point newton sweep, {rows}x50 float64 ({converged} converged)",
            peak_gib=peak / 2**30,
            peak_over_X=peak / x_bytes,
            seconds=time.perf_counter() - start,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows: list[dict] = []
    X, y = load_breast_cancer(return_X_y=True)
    case("breast cancer", (X - X.mean(0)) / X.std(0), y * 1.0, max(5, args.repeats), rows, False)
    X, y = synthetic(args.rows, 50, np.float64)
    case(f"synthetic {args.rows}x50", X, y, args.repeats, rows, True)
    memory_case(args.rows, rows)
    print("| section | method | max gap | steady s | first call s | speed-up vs best sklearn |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if r["section"] == "memory":
            continue
        speed = ""
        if "speedup_steady" in r:
            speed = (
                f"{r['speedup_steady']:.2f}x steady, {r['speedup_with_compile']:.2f}x with compile"
            )
            if "speedup_warm_cache" in r:
                speed += f", {r['speedup_warm_cache']:.2f}x first call with warm cache"
        print(
            f"| {r['section']} | {r['method']} | {r['gap']:.1e} | {r['steady_s']:.4g} | "
            f"{r['first_s']:.4g} | {speed} |"
        )
    for r in rows:
        if r["section"] == "memory":
            print(
                f"\nmemory: {r['method']}: peak {r['peak_gib']:.2f} GiB above the process "
                f"= {r['peak_over_X']:.1f}x X ({r['seconds']:.0f} s)"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
