"""Integer codes shared by the KGE kernels and their Python callers (no numba here: naming a model,
loss or optimiser does not load the compiled kernels)."""

KIND_TRANSE = 0
KIND_DISTMULT = 1
KIND_COMPLEX = 2
KIND_ROTATE = 3
KIND_QUATE = 4
KIND_DIHEDRAL = 5
KIND_TRANS = 6

LOSS_MARGIN = 0
LOSS_SOFTPLUS = 1
LOSS_NSSA = 2

OPT_SGD = 0
OPT_ADAGRAD = 1
OPT_ADAM = 2

REG_NONE = 0
REG_L2 = 1
REG_N3 = 2
