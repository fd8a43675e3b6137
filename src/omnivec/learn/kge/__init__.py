"""Knowledge-graph embeddings: TransE, DistMult, ComplEx, RotatE, QuatE, DihEdral and TranS.

    from omnivec.learn.kge import KGE, KGModel, load_triples
    data = load_triples("nations/")                  # train/valid/test TSV files
    model = KGE("RotatE", dim=100, epochs=200).fit(data)
    model.save("nations.omnivec")                     # tables 'entities' and 'relations'
    m = KGModel.open("nations.omnivec")
    m.predict_tails("usa", "embassy", k=5)

Filtered link-prediction evaluation lives in `omnivec.evaluate.linkpred`.
"""

from .data import ReadReport, TripleSet, load_triples, read_triples
from .model import KGModel
from .models import MODELS, ModelSpec, get_model, model_names
from .train import KGE, History

__all__ = ["KGE", "KGModel", "History", "TripleSet", "ReadReport", "load_triples", "read_triples",
           "MODELS", "ModelSpec", "get_model", "model_names"]
