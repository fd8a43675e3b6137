import pytest

from planted_words import DATA, planted


@pytest.fixture(scope="session")
def planted_corpus():
    return planted()


@pytest.fixture(scope="session")
def glosses():
    return DATA / "wordnet_glosses.txt.gz"
