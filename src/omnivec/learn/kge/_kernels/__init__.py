"""Compiled kernels for knowledge-graph embeddings, one module per concern.

  common.py        compile options, the random generator, unit-norm projections,
                   the per-member specialisation of shared loops (`specialize`)
  scores/<model>   one module per scoring function: score, gradient, relation
                   forms and, where it exists, the query form of the fixed side
  losses.py        per-triple loss terms and their score gradients; regularisers
  optimizers.py    SGD, Adagrad and (lazily dense) Adam updates of the touched rows
  loop.py          the training loop and the all-candidates scorer, generated per
                   model, loss, optimiser and regulariser from their functions
  ranking.py       filtered optimistic / pessimistic ranks

Nothing here names a model, loss or optimiser: the registries in
`omnivec.learn.kge` name the modules and functions, and the loops receive them.
Reached through `omnivec._lazy.kernels`, so importing the package loads no numba.
"""
