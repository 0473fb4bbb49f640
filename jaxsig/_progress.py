"""A tqdm progress bar over epochs, for loops run in chunks from Python (see `_driver.in_chunks`).

Chunks exist only to move a bar: when stderr is not a terminal (a log, a pipe, a batch job),
or the run is too small to last until the bar would appear, there is nothing to show and the
loop runs as one compiled call. On a terminal the bar is made only once a run has lasted
`DELAY_SECONDS`, so short runs stay quiet.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

DELAY_SECONDS = 1.0


# Below this many multiply-adds (epochs x rows x features, times features for Newton's
# Hessian) a run ends long before DELAY_SECONDS: about 0.1 s even at 1e8 a second with ten
# evaluations an epoch (a line search).
SMALL_RUN = 1e6


# Multiply-adds a second of a modest core; sizes the first chunk, before any speed is known.
ASSUMED_RATE = 1e9


def on_terminal() -> bool:
    return sys.stderr.isatty()


def worth_chunking(epochs: int, epoch_work: float) -> bool:
    """Whether a bar could appear: stderr is a terminal and the run may last a while."""
    return epochs * epoch_work >= SMALL_RUN and on_terminal()


def first_chunk(epoch_work: float) -> int:
    """Epochs for the first chunk: about a quarter second at `ASSUMED_RATE` (a short run is
    then done in one call; a slow machine only shows the bar a little later)."""
    return max(1, int(0.25 * ASSUMED_RATE / epoch_work))


def epoch_work(X_shape: tuple[int, ...], solver: str, problems: int = 1) -> float:
    """Multiply-adds of one epoch: a pass over ``X`` per problem, ``d`` of them for Newton."""
    n, d = X_shape
    return float(n) * d * problems * (d if solver == "newton" else 1)


@contextlib.contextmanager
def epochs_bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    """Yields ``show(epochs_run)``, which moves the bar to ``epochs_run`` of ``total``."""
    began = time.perf_counter()
    bar = None

    def show(epochs_run: int) -> None:
        nonlocal bar
        if bar is None:
            if time.perf_counter() - began < DELAY_SECONDS:
                return
            from tqdm import tqdm

            bar = tqdm(
                total=total,
                desc=description,
                unit="epoch",
                leave=False,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        bar.update(epochs_run - bar.n)

    try:
        yield show
    finally:
        if bar is not None:
            bar.close()
