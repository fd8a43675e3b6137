"""One module per KGE scoring function.

Each defines, on inference-form vectors (higher scores are more plausible):
  score(p, h, r, t)                        the score of one triple
  grad(p, h, r, t, c, gh, gr, gt)          add c * d score / d (h, r, t)
  rel_forward(rp, tau, gumbel, state, rinf, aux), rel_backward(rp, rinf, grinf, aux, tau, gr)
                                           training form -> inference form and back
  rel_infer(rp, tau, state, rinf, aux)     the saved (inference) form of one relation
  HAS_QUERY                                whether the score is a function of the candidate
                                           and one query vector built from the fixed side:
  make_query(tail, f, r, q), query_backward(tail, f, r, gq, gf, gr),
  score_query(p, x, q), grad_query(p, x, q, c, gx, gq)
Models without a query form take the stand-ins of `common` (never called).
Optional flags: NOISY_RELATIONS (the training-time inference form is random per
triple, so it is not cached per batch; default False) and PENALIZE_RELATIONS
(regularisers apply to relation parameters; default True).
"""
