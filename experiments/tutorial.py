"""The origin tutorial, example by example, through jaxsig: the same code path as `jaxsig demo`.

python experiments/tutorial.py [--out-dir experiments/results]
"""

import argparse

from jaxsig import demo

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default="experiments/results")
    demo.main(parser.parse_args().out_dir)
