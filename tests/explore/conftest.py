import pytest

from explore_helpers import glove2100


@pytest.fixture(scope="session")
def g2100():
    return glove2100()


@pytest.fixture(scope="session")
def map2100(g2100):
    from omnivec.explore import build_map

    return build_map(g2100, layout="pca")
