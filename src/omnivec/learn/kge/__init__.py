"""Knowledge-graph embeddings: TransE, DistMult, ComplEx, RotatE, QuatE, DihEdral and TranS.

    from omnivec.learn.kge import KGE, KGModel, load_triples
    data = load_triples("nations/")                  # train/valid/test TSV files
    model = KGE("RotatE", dim=100, epochs=200).fit(data)
    model.save("nations.omnivec")                     # tables 'entities' and 'relations'
    m = KGModel.open("nations.omnivec")
    m.predict_tails("usa", "embassy", k=5)

Models, losses, optimisers and regularisers are registry entries (MODELS,
LOSSES, OPTIMIZERS, REGULARIZERS) carrying their compiled kernels; filtered
ranks and MRR are in `omnivec.learn.kge.ranking`, the full link-prediction
report (Hits@k, per side) in `omnivec.evaluate.linkpred`.
"""

from .data import ReadReport, TripleSet, load_triples, read_triples
from .losses import LOSSES, REGULARIZERS, LossSpec, RegularizerSpec
from .model import KGModel
from .models import MODELS, ModelSpec, get_model, model_names
from .optimizers import OPTIMIZERS, OptimizerSpec
from .train import KGE, History

__all__ = ["KGE", "KGModel", "History", "TripleSet", "ReadReport", "load_triples", "read_triples",
           "MODELS", "ModelSpec", "get_model", "model_names", "LOSSES", "LossSpec", "REGULARIZERS",
           "RegularizerSpec", "OPTIMIZERS", "OptimizerSpec"]
