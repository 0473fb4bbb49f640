"""A tqdm progress bar over epochs, for loops run in chunks from Python (see `_driver.in_chunks`).

Chunks exist only to move a bar: when stderr is not a terminal (a log, a pipe, a batch job)
there is nothing to show and the loop runs as one compiled call. On a terminal the bar
appears once a run has lasted `DELAY_SECONDS`, so short runs stay quiet.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

DELAY_SECONDS = 1.0


def on_terminal() -> bool:
    return sys.stderr.isatty()


@contextlib.contextmanager
def epochs_bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    """Yields ``show(epochs_run)``, which moves the bar to ``epochs_run`` of ``total``."""
    from tqdm import tqdm

    with tqdm(
        total=total,
        desc=description,
        unit="epoch",
        delay=DELAY_SECONDS,
        leave=False,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:

        def show(epochs_run: int) -> None:
            bar.update(epochs_run - bar.n)

        yield show
