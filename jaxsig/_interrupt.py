"""Ctrl-C at the command line: the process ends at once, whatever it is doing.

Python turns SIGINT into KeyboardInterrupt only when the main thread runs Python code, and
during a compiled loop it waits in XLA for seconds. So the signal also wakes a watcher thread
(``signal.set_wakeup_fd``: the C-level handler writes to a pipe in whichever thread receives
it), which removes the temporary files being written (destinations keep their old content),
prints ``jaxsig: error: interrupted`` and exits with status 130 without unwinding.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from jaxsig import _files

INTERRUPTED = 130


def _watch(read_end: int) -> None:
    while True:
        received = os.read(read_end, 64)
        if signal.SIGINT in received:
            try:
                _files.remove_pending()
                os.write(2, b"jaxsig: error: interrupted\n")
            finally:  # even with stderr closed or a broken pipe
                os._exit(INTERRUPTED)


def exit_on_interrupt() -> None:
    """Installs the watcher; from the main thread, once per process (later calls do nothing)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if any(t.name == "jaxsig-interrupt" for t in threading.enumerate()):
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    # The watcher alone acts: no KeyboardInterrupt in the main thread races it.
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    threading.Thread(target=_watch, args=(read_end,), name="jaxsig-interrupt", daemon=True).start()


def for_the_command_line() -> None:
    """`exit_on_interrupt` when this process is the ``jaxsig`` command: its entry point imports
    the package, and so JAX, before ``cli.main`` runs, and a Ctrl-C then would end in a
    traceback. Called first thing by the package, with nothing heavy imported yet."""
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None) or ""
    if os.path.basename(script) == "jaxsig" and sys.argv and sys.argv[0] == script:
        exit_on_interrupt()
