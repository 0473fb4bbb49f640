"""jaxsig.inference and jaxsig.bootstrap against a Python loop over statsmodels: a markdown
table on stdout, JSON with --json.

Two cases, float64 throughout, jaxsig's persistent compilation cache off so that a first call
compiles for real:
  se         M independent data sets (--models, each --n x --d, simulated from a logistic
             model with a fixed seed), each fitted and given its nonrobust standard errors:
             in jaxsig ONE jitted function, ``jit(vmap(inference(fit(X, y, newton).params,
             X, y).se))``; in statsmodels ``Logit(y, add_constant(X)).fit().bse`` per model.
  bootstrap  --resamples resamples of one --boot-n x --boot-d data set: ``jaxsig.bootstrap``
             against statsmodels Logit fits on rows drawn with replacement.

jaxsig's first call (compilation included) and the median of --repeats steady calls are
reported apart. The statsmodels loop is timed once, after one untimed warm-up fit, over a
subset (--loop-models models, --loop-resamples resamples) and extrapolated linearly to the
full count: a loop's cost is its number of fits times the cost of one. The issue's target is
at least 20x faster than the loop with compile, on CPU. The standard errors of the subset are
checked against statsmodels' (max relative difference); the bootstrap's, being random, are
printed side by side for the first 3 coefficients.

    python experiments/bench_inference.py [--models 10000] [--n 500] [--d 10]
        [--loop-models 500] [--resamples 2000] [--boot-n 10000] [--boot-d 20]
        [--loop-resamples 100] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

# Measure real compilations: jaxsig's persistent cache would otherwise serve a rerun.
os.environ["JAXSIG_COMPILATION_CACHE"] = "0"
sys.path.insert(0, os.path.dirname(__file__))

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import statsmodels.api as sm  # noqa: E402
from _timing import interleaved  # noqa: E402

import jaxsig  # noqa: E402

TARGET = 20.0  # loop / jaxsig with compile, on CPU
TARGET_TEXT = f">= {TARGET:g}x with compile (CPU)"


def simulate(shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """X of ``shape`` (..., n, d), standard normal; y drawn from a logistic model with one fixed
    coefficient vector (scaled so that the logits have unit spread) and intercept 0.2."""
    rng = np.random.default_rng(seed)
    d = shape[-1]
    X = rng.normal(size=shape)
    logits = X @ (rng.normal(size=d) / np.sqrt(d)) + 0.2
    y = (rng.uniform(size=logits.shape) < 1 / (1 + np.exp(-logits))).astype(np.float64)
    return X, y


def statsmodels_fit(y: np.ndarray, design: np.ndarray):
    """A statsmodels Logit fit (Newton, its defaults), warnings (separation, iteration limit)
    silenced: non-convergence is counted by the caller from ``mle_retvals``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.Logit(y, design).fit(disp=0)


def jaxsig_order(statsmodels_coef: np.ndarray) -> np.ndarray:
    """statsmodels' (const, w) as jaxsig's (w, b)."""
    return np.concatenate([statsmodels_coef[..., 1:], statsmodels_coef[..., :1]], -1)


def row(case, size, first, steady, loop_s, loop_count, total_count, **checks) -> dict:
    loop_total = loop_s * total_count / loop_count
    with_compile = loop_total / first
    return dict(
        case=case,
        size=size,
        jaxsig_first_s=first,
        jaxsig_steady_s=steady,
        compile_s=first - steady,
        statsmodels_loop_s=loop_total,
        statsmodels_loop_measured_s=loop_s,
        statsmodels_loop_measured_fits=loop_count,
        statsmodels_loop_extrapolated_to=total_count,
        ratio_with_compile=with_compile,
        ratio_steady=loop_total / steady,
        target=TARGET_TEXT,
        meets_target=bool(with_compile >= TARGET),
        platform=jax.devices()[0].platform,
        **checks,
    )


def se_case(models: int, n: int, d: int, loop_models: int, repeats: int) -> dict:
    """Nonrobust standard errors of ``models`` independent fits, one jitted call against a loop."""
    X, y = simulate((models, n, d), seed=0)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    jax.block_until_ready((Xj, yj))

    @jax.jit
    @jax.vmap
    def standard_errors(X, y):
        params = jaxsig.fit(X, y, solver="newton", tol=1e-10, epochs=50).params
        return jaxsig.inference(params, X, y).se

    first, steady = interleaved({"jaxsig": lambda: standard_errors(Xj, yj)}, repeats)
    se = np.asarray(standard_errors(Xj, yj))

    loop_models = min(loop_models, models)
    statsmodels_fit(y[0], sm.add_constant(X[0]))  # warm-up, untimed
    bse, unconverged = [], 0
    start = time.perf_counter()
    for i in range(loop_models):
        result = statsmodels_fit(y[i], sm.add_constant(X[i]))
        bse.append(result.bse)
        unconverged += not result.mle_retvals["converged"]
    loop_s = time.perf_counter() - start
    reference = jaxsig_order(np.asarray(bse))
    relative = np.abs(se[:loop_models] - reference) / np.abs(reference)
    return row(
        "se of M independent models",
        f"M={models}, {n}x{d}",
        first["jaxsig"],
        steady["jaxsig"],
        loop_s,
        loop_models,
        models,
        se_max_rel_diff=float(np.nanmax(relative)),
        se_nonfinite_jaxsig=int(np.sum(~np.isfinite(se))),
        statsmodels_unconverged=unconverged,
    )


def bootstrap_case(resamples: int, n: int, d: int, loop_resamples: int, repeats: int) -> dict:
    """``resamples`` bootstrap refits of one data set, jaxsig.bootstrap against a loop."""
    X, y = simulate((n, d), seed=1)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    jax.block_until_ready((Xj, yj))
    key = jax.random.key(0)

    def run():
        return jaxsig.bootstrap(Xj, yj, key=key, n_resamples=resamples)

    first, steady = interleaved({"jaxsig": run}, repeats)
    result = run()

    loop_resamples = min(loop_resamples, resamples)
    design = sm.add_constant(X)
    rng = np.random.default_rng(0)
    statsmodels_fit(y, design)  # warm-up, untimed
    replicates, unconverged = [], 0
    start = time.perf_counter()
    for _ in range(loop_resamples):
        rows = rng.choice(n, size=n, replace=True)
        fitted = statsmodels_fit(y[rows], design[rows])
        replicates.append(fitted.params)
        unconverged += not fitted.mle_retvals["converged"]
    loop_s = time.perf_counter() - start
    loop_se = jaxsig_order(np.std(np.asarray(replicates), axis=0, ddof=1))
    shown = min(3, d + 1)
    return row(
        "bootstrap",
        f"B={resamples}, {n}x{d}",
        first["jaxsig"],
        steady["jaxsig"],
        loop_s,
        loop_resamples,
        resamples,
        bootstrap_se_jaxsig=np.asarray(result.se)[:shown].tolist(),
        bootstrap_se_statsmodels=loop_se[:shown].tolist(),
        bootstrap_unconverged_jaxsig=int(np.sum(~np.asarray(result.converged))),
        statsmodels_unconverged=unconverged,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000, help="M independent data sets")
    parser.add_argument("--n", type=int, default=500, help="rows of each")
    parser.add_argument("--d", type=int, default=10, help="features of each")
    parser.add_argument("--loop-models", type=int, default=500, help="models the loop times")
    parser.add_argument("--resamples", type=int, default=2_000, help="bootstrap resamples B")
    parser.add_argument("--boot-n", type=int, default=10_000, help="rows of the bootstrap data")
    parser.add_argument("--boot-d", type=int, default=20, help="features of the bootstrap data")
    parser.add_argument("--loop-resamples", type=int, default=100, help="resamples the loop times")
    parser.add_argument("--repeats", type=int, default=3, help="steady calls, median taken")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = [
        se_case(args.models, args.n, args.d, args.loop_models, args.repeats),
        bootstrap_case(args.resamples, args.boot_n, args.boot_d, args.loop_resamples, args.repeats),
    ]
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}, float64; "
        f"jaxsig steady = median of {args.repeats} calls after the first"
    )
    print()
    print(
        "| case | size | jaxsig first s (incl. compile) | jaxsig steady s | compile s | "
        "statsmodels loop s | loop / jaxsig with compile | loop / jaxsig steady | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        met = "met" if r["meets_target"] else "NOT met"
        print(
            f"| {r['case']} | {r['size']} | {r['jaxsig_first_s']:.4g} | "
            f"{r['jaxsig_steady_s']:.4g} | {r['compile_s']:.3g} | "
            f"{r['statsmodels_loop_s']:.4g} | {r['ratio_with_compile']:.3g}x | "
            f"{r['ratio_steady']:.3g}x | {r['target']}: {met} |"
        )
    print()
    for r in rows:
        print(
            f"- {r['case']}: the statsmodels loop was timed over "
            f"{r['statsmodels_loop_measured_fits']} fits ({r['statsmodels_loop_measured_s']:.4g} s)"
            f" and extrapolated linearly to {r['statsmodels_loop_extrapolated_to']}; "
            f"{r['statsmodels_unconverged']} of its fits did not converge."
        )
    se, boot = rows
    print(
        f"- se check on those {se['statsmodels_loop_measured_fits']} models: max relative "
        f"difference jaxsig vs statsmodels bse = {se['se_max_rel_diff']:.2e} "
        f"(statsmodels' constant moved last); non-finite jaxsig se: {se['se_nonfinite_jaxsig']}."
    )
    print(
        "- bootstrap se, first coefficients (random, so agreement is rough): jaxsig "
        f"{np.round(boot['bootstrap_se_jaxsig'], 5).tolist()} over {args.resamples} resamples, "
        f"statsmodels {np.round(boot['bootstrap_se_statsmodels'], 5).tolist()} over "
        f"{boot['statsmodels_loop_measured_fits']}; jaxsig resamples not converged: "
        f"{boot['bootstrap_unconverged_jaxsig']}."
    )
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
