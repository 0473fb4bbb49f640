"""jaxsig inside JAX transformations, measured side by side in one process: a table on stdout,
JSON with --json.

Every figure is a median of --repeats interleaved calls (the compared calls alternate, so that
a shared machine's noise falls on both); compile time (a first call minus a steady one) is
reported apart, with jaxsig's persistent compilation cache off. Sections:
  vjp      jax.grad of a held-out loss with respect to l2 and the sample weights through a fit
           (the fit plus one implicit VJP) against the fit alone, per solver; and the VJP of a
           1,000-feature fit, which solves by conjugate gradients
  columns  one k-column fit against k one-column fits (each its own compiled call), per solver
  early    a 32-point gd sweep with early stopping on held-out rows against the same sweep
           without, and with a patience that never runs out (the cost of measuring alone)

    python experiments/bench_jax.py [--repeats 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os

os.environ["JAXSIG_COMPILATION_CACHE"] = "0"  # measure real compilations

import jax
import jax.numpy as jnp
import numpy as np
from _timing import interleaved

import jaxsig


def synthetic(n: int, d: int, dtype=np.float32, seed: int = 0, columns: int | None = None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    k = 1 if columns is None else columns
    logits = X @ rng.normal(size=(d, k)).astype(dtype) / np.sqrt(d) + 0.2
    y = (rng.uniform(size=(n, k)) < 1 / (1 + np.exp(-logits))).astype(dtype)
    return jnp.asarray(X), jnp.asarray(y[:, 0] if columns is None else y)


SOLVERS = {
    "gd": dict(solver="gd", learning_rate=1.0, epochs=300),
    "sgd": dict(solver="sgd", batch_size=256, learning_rate=0.1, epochs=10),
    "lbfgs": dict(solver="lbfgs", tol=1e-5, epochs=500),
    "newton": dict(solver="newton", tol=1e-5, epochs=50),
    "fista": dict(solver="fista", l1=1e-4, tol=1e-5, epochs=2000),
}


def vjp_section(repeats: int) -> list[dict]:
    rows = []
    X, y = synthetic(20_000, 50)
    X_held, y_held = synthetic(5_000, 50, seed=1)
    target = jaxsig.held_out_loss(X_held, y_held)
    for name, options in SOLVERS.items():
        rows.append(_vjp_case(f"20000x50 {name}", X, y, target, options, repeats))
    X, y = synthetic(20_000, 1000)
    X_held, y_held = synthetic(2_000, 1000, seed=1)
    rows.append(
        _vjp_case(
            "20000x1000 lbfgs (CG solve)",
            X,
            y,
            jaxsig.held_out_loss(X_held, y_held),
            dict(solver="lbfgs", tol=1e-4, epochs=500),
            repeats,
        )
    )
    return rows


def _vjp_case(case, X, y, target, options, repeats):
    weights = jnp.ones(X.shape[0], X.dtype)

    def fitted(l2, v):
        return jaxsig.fit(X, y, l2=l2, sample_weight=v, **options).params

    fit = jax.jit(lambda l2, v: target(fitted(l2, v)))
    grad = jax.jit(jax.value_and_grad(lambda l2, v: target(fitted(l2, v)), argnums=(0, 1)))
    first, steady = interleaved(
        {"fit": lambda: fit(1e-3, weights), "fit+vjp": lambda: grad(1e-3, weights)}, repeats
    )
    vjp = steady["fit+vjp"] - steady["fit"]
    return dict(
        section="vjp",
        case=case,
        fit_s=steady["fit"],
        fit_and_vjp_s=steady["fit+vjp"],
        vjp_s=vjp,
        vjp_over_fit=vjp / steady["fit"],
        compile_fit_s=first["fit"] - steady["fit"],
        compile_fit_and_vjp_s=first["fit+vjp"] - steady["fit+vjp"],
    )


def columns_section(repeats: int) -> list[dict]:
    k = 16
    X, Y = synthetic(4_000, 256, columns=k)
    rows = []
    for name, options in SOLVERS.items():
        options = {**options, "l2": 1e-3}
        joint = jax.jit(lambda X, Y, options=options: jaxsig.fit(X, Y, **options).params)
        single = jax.jit(lambda X, y, options=options: jaxsig.fit(X, y, **options).params)
        columns = [Y[:, j] for j in range(k)]

        def separately(single=single, columns=columns):
            return [single(X, y) for y in columns]

        first, steady = interleaved(
            {"joint": lambda joint=joint: joint(X, Y), "separate": separately}, repeats
        )
        rows.append(
            dict(
                section="columns",
                case=f"4000x256, {k} columns, {name}",
                joint_s=steady["joint"],
                separate_s=steady["separate"],
                ratio=steady["joint"] / steady["separate"],
                compile_joint_s=first["joint"] - steady["joint"],
            )
        )
    return rows


def early_section(repeats: int) -> list[dict]:
    X, y = synthetic(20_000, 100, seed=2)
    held = (np.arange(20_000) % 5 == 0).astype(np.float32)
    l2 = np.geomspace(1e-6, 1e-1, 32)
    options = dict(solver="gd", learning_rate=2.0, epochs=1000, l2=l2)
    plain = jax.jit(lambda X, y: jaxsig.sweep(X, y, **options, sample_weight=1 - held).params)
    stopped = jax.jit(
        lambda X, y: jaxsig.sweep(X, y, **options, validation=held, patience=20).params
    )
    watched = jax.jit(
        lambda X, y: jaxsig.sweep(X, y, **options, validation=held, patience=10**6).params
    )
    first, steady = interleaved(
        {
            "no early stopping": lambda: plain(X, y),
            "patience 20": lambda: stopped(X, y),
            "patience never spent": lambda: watched(X, y),
        },
        repeats,
    )
    epochs = jaxsig.sweep(X, y, **options, validation=held, patience=20).iterations
    base = steady["no early stopping"]
    return [
        dict(
            section="early",
            case=f"20000x100 gd sweep of 32 l2 x 1000 epochs: {name}",
            seconds=seconds,
            ratio=seconds / base,
            compile_s=first[name] - seconds,
            mean_epochs=float(np.mean(epochs)) if name == "patience 20" else 1000.0,
        )
        for name, seconds in steady.items()
    ]


SECTIONS = {"vjp": vjp_section, "columns": columns_section, "early": early_section}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    rows = []
    for name in args.sections.split(","):
        for row in SECTIONS[name](args.repeats):
            rows.append(row)
            shown = {k: f"{v:.4g}" if isinstance(v, float) else v for k, v in row.items()}
            print("  ".join(f"{k}={v}" for k, v in shown.items()), flush=True)
    print(f"devices: {jax.devices()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": str(jax.devices()[0]), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
