import jax
import pytest
import support


@pytest.fixture(scope="session", autouse=True)
def _reference_cache(pytestconfig):
    cache = getattr(pytestconfig, "cache", None)
    support.REFERENCE_DIR = cache.mkdir("jaxsig-references") if cache is not None else None


@pytest.fixture(scope="module", autouse=True)
def _release_compiled_programs():
    """XLA:CPU keeps memory maps for every compiled program; the suite compiles thousands in one
    process (every dtype, shape and solver), and with x64 on it reached the kernel's limit
    (vm.max_map_count, 65530) and crashed in a compile. Dropping JAX's caches after each module
    releases them."""
    yield
    jax.clear_caches()
