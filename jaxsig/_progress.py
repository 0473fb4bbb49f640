"""A tqdm progress bar over epochs, for loops run in chunks from Python (see `_driver.in_chunks`).

Chunks exist only to move a bar: when stderr is not a terminal (a log, a pipe, a batch job)
there is nothing to show and the loop runs as one compiled call. On a terminal the bar is made
only once a run has lasted `DELAY_SECONDS`, so short runs stay quiet and pay nothing for it.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

DELAY_SECONDS = 1.0


def on_terminal() -> bool:
    return sys.stderr.isatty()


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
