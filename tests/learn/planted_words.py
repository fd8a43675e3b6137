"""A planted-structure corpus: words of one group share their contexts and no others."""

import random
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "words"
GROUPS = [["cat", "dog", "fox", "wolf"], ["red", "blue", "green", "pink"], ["run", "walk", "jump", "swim"],
          ["paris", "rome", "oslo", "lima"]]
CONTEXTS = [["animal", "pet", "fur", "tail", "zoo"], ["color", "paint", "bright", "shade", "hue"],
            ["legs", "move", "fast", "sport", "race"], ["city", "capital", "travel", "map", "town"]]


def planted(n_sentences: int = 1500, seed: int = 0) -> list[list[str]]:
    """Sentences where the words of one group share their context words and no others."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n_sentences):
        g = rnd.randrange(len(GROUPS))
        s = [rnd.choice(CONTEXTS[g]) for _ in range(4)]
        s.insert(rnd.randrange(5), rnd.choice(GROUPS[g]))
        out.append(s)
    return out
