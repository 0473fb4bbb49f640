import pytest
import support


@pytest.fixture(scope="session", autouse=True)
def _reference_cache(pytestconfig):
    cache = getattr(pytestconfig, "cache", None)
    support.REFERENCE_DIR = cache.mkdir("jaxsig-references") if cache is not None else None
