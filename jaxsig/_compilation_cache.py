"""JAX's persistent compilation cache, switched on when jaxsig is imported.

A fit compiles in about a second; cached, the first fit of a later process loads instead. The
cache lives in ``$XDG_CACHE_HOME/jaxsig/xla`` (default ``~/.cache/jaxsig/xla``). It is left
alone when the user has configured a cache directory, and skipped entirely when the
environment sets ``JAXSIG_COMPILATION_CACHE=0``.
"""

from __future__ import annotations

import os
import pathlib

import jax

# JAX caches only compilations slower than 1 s by default; a fit compiles in 0.3 to 2 s, and
# caching every step is what brings the first fit of a new process from 1.2 s to 0.25 s.
_MIN_COMPILE_SECONDS = 0.0


def enable() -> None:
    if os.environ.get("JAXSIG_COMPILATION_CACHE", "1") == "0":
        return
    if jax.config.jax_compilation_cache_dir:
        return
    root = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    jax.config.update("jax_compilation_cache_dir", str(root / "jaxsig" / "xla"))
    if jax.config.jax_persistent_cache_min_compile_time_secs == 1.0:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", _MIN_COMPILE_SECONDS)
