"""The ``jaxsig`` command line."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxsig", description="Exact sigmoid models in JAX: run the tutorial demo."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="reproduce the origin tutorial and fit a real data set",
        description="Reproduce the origin tutorial through jaxsig, fix what it gets wrong, and "
        "fit the breast-cancer data set bundled with scikit-learn.",
    )
    demo.add_argument(
        "--out-dir", default="jaxsig-demo", help="folder for the plot (default: %(default)s)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from jaxsig import demo

        demo.main(args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
