"""The training loop and the all-candidates scorer, compiled per combination of members.

`train_batches(model, loss, optimizer, regularizer)` returns the loop for one
scoring module (see `scores`), one loss and regulariser of `losses` and one
optimiser of `optimizers`; `score_candidates(model)` and
`relation_table(model)` the ranking-side kernels of one model.  The member
functions are constants of the generated code (see `common.specialize`): no
test of which model, loss or optimiser runs is left inside the loops.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import prange

from .common import FAST, randint, specialize, uniform

_COMPILED: dict = {}
_LOCK = threading.Lock()


def _tag(fn) -> str:
    return fn.py_func.__name__


def _model_tag(model) -> str:
    return model.score.py_func.__module__.rsplit(".", 1)[-1]


def train_batches(model, loss, optimizer, regularizer):
    """Return the compiled loop training `model` (a scores module) with these loss, optimiser and
    regulariser functions (regularizer None: no penalty).

    The loop trains on batches [b_start, b_end) of `order`, updating E and R in
    place (Hogwild-safe).  out[0] += summed batch losses, out[1] += number of
    batches.  After each update, rows are projected to unit norm block-wise:
    the e_blocks (r_blocks) equal parts of an entity (relation) row whose bit
    is set in e_mask (r_mask).  gstep[0] >= 0 counts the global optimiser
    steps of dense updates: every row moves after every batch, as with a dense
    optimiser (Adam's moments keep moving rows a batch did not touch), caught
    up lazily when a batch next touches the row and by the optimiser's
    `catch_up` at the end of an epoch.  gstep[0] < 0: sparse updates, only the
    touched rows take a step.  stop[0] != 0 asks the kernel to return before
    its next batch (Ctrl-C).  Gradient buffers gE/gR, marks and row lists are
    this thread's own; E, R and the optimiser moments are shared between
    threads.  dri is the width of a relation's inference form.
    """
    from . import losses

    has_reg = regularizer is not None
    reg = regularizer if has_reg else losses.no_regularizer
    key = ("train", _model_tag(model), _tag(loss), _tag(optimizer), _tag(reg))
    if key in _COMPILED:
        return _COMPILED[key]
    score_one, grad_one = model.score, model.grad
    make_query, score_query = model.make_query, model.score_query
    grad_query, query_backward = model.grad_query, model.query_backward
    rel_forward, rel_backward = model.rel_forward, model.rel_backward
    query = bool(model.HAS_QUERY)
    # a relation's inference form changes only when the batch's update is applied: computed
    # once per batch and relation, unless its form is noisy per triple (DihEdral's Gumbel noise)
    cache_rel = not getattr(model, "NOISY_RELATIONS", False)
    # phases and group logits are not magnitudes: only real-valued relations are penalised
    reg_rel = bool(getattr(model, "PENALIZE_RELATIONS", True))
    apply = optimizer

    def loop(p, E, R, dri, triples, order, b_start, b_end, batch_size, num_neg, head_prob, margin,
             adv_temp, reg_weight, lr, beta1, beta2, eps, e_blocks, e_mask, r_blocks, r_mask, tau,
             mE, vE, stepE, mR, vR, stepR, gE, gR, markE, markR, listE, listR, state, out, gstep, stop):
        n = order.shape[0]
        n_ent = E.shape[0]
        rinf = np.zeros(dri, dtype=np.float32)
        grinf = np.zeros(dri, dtype=np.float32)
        aux = np.zeros(max(R.shape[1], 1), dtype=np.float32)
        negh = np.zeros(num_neg, dtype=np.int64)
        negt = np.zeros(num_neg, dtype=np.int64)
        sneg = np.zeros(num_neg, dtype=np.float64)
        cneg = np.zeros(num_neg, dtype=np.float64)
        qv = np.zeros(E.shape[1], dtype=np.float32)
        gq = np.zeros(E.shape[1], dtype=np.float32)
        n_rc = R.shape[0] if cache_rel else 1
        RC = np.zeros((n_rc, dri), dtype=np.float32)
        AC = np.zeros((n_rc, aux.shape[0]), dtype=np.float32)
        rstamp = np.full(n_rc, -1, dtype=np.int64)
        for b in range(b_start, b_end):
            if stop[0] != 0:
                break
            lo = b * batch_size
            hi = min(lo + batch_size, n)
            bsz = hi - lo
            if bsz <= 0:
                continue
            nE = 0
            nR = 0
            acc = 0.0
            for ii in range(lo, hi):
                tr = order[ii]
                h = triples[tr, 0]
                r = triples[tr, 1]
                t = triples[tr, 2]
                if cache_rel:
                    if rstamp[r] != b:
                        rel_forward(R[r], tau, True, state, RC[r], AC[r])
                        rstamp[r] = b
                    rel = RC[r]
                    ax = AC[r]
                else:
                    rel_forward(R[r], tau, True, state, rinf, aux)
                    rel = rinf
                    ax = aux
                # one side per positive, all its negatives corrupt it (as PyKEEN and the RotatE
                # reference code do): self-adversarial weights compare like with like
                head_side = uniform(state) < head_prob[r]
                fixed = t if head_side else h      # the side the negatives keep
                true_x = h if head_side else t     # the side they replace
                if query:
                    make_query(not head_side, E[fixed], rel, qv)
                    spos = score_query(p, E[true_x], qv)
                else:
                    spos = score_one(p, E[h], rel, E[t])
                for j in range(num_neg):
                    x = randint(state, n_ent - 1)
                    x = x + 1 if x >= true_x else x
                    negh[j] = x if head_side else h
                    negt[j] = t if head_side else x
                    if query:
                        sneg[j] = score_query(p, E[x], qv)
                    else:
                        sneg[j] = score_one(p, E[negh[j]], rel, E[negt[j]])
                acc, cpos = loss(acc, spos, sneg, cneg, bsz, margin, adv_temp)
                # loss gradients: negative scores are minimised, so descend on +dL/ds
                for k in range(dri):
                    grinf[k] = 0.0
                if query:
                    for k in range(gq.shape[0]):
                        gq[k] = 0.0
                    grad_query(p, E[true_x], qv, cpos, gE[true_x], gq)
                else:
                    grad_one(p, E[h], rel, E[t], cpos, gE[h], grinf, gE[t])
                for j in range(num_neg):
                    if query:
                        x = negh[j] if head_side else negt[j]
                        grad_query(p, E[x], qv, cneg[j], gE[x], gq)
                    else:
                        grad_one(p, E[negh[j]], rel, E[negt[j]], cneg[j], gE[negh[j]], grinf, gE[negt[j]])
                    for e in (negh[j], negt[j]):
                        if markE[e] == 0:
                            markE[e] = 1
                            listE[nE] = e
                            nE += 1
                if query:
                    query_backward(not head_side, E[fixed], rel, gq, gE[fixed], grinf)
                rel_backward(R[r], rel, grinf, ax, tau, gR[r])
                if has_reg and reg_weight > 0:
                    w = reg_weight / bsz
                    acc += reg(E[h], gE[h], w)
                    acc += reg(E[t], gE[t], w)
                    if reg_rel:
                        acc += reg(R[r], gR[r], w)
                for e in (h, t):
                    if markE[e] == 0:
                        markE[e] = 1
                        listE[nE] = e
                        nE += 1
                if markR[r] == 0:
                    markR[r] = 1
                    listR[nR] = r
                    nR += 1
            for ii in range(nE):
                markE[listE[ii]] = 0
            for ii in range(nR):
                markR[listR[ii]] = 0
            T = 0
            if gstep[0] >= 0:
                T = gstep[0] + 1
                gstep[0] = T
            apply(E, gE, mE, vE, stepE, listE, nE, lr, beta1, beta2, eps, e_blocks, e_mask, T)
            apply(R, gR, mR, vR, stepR, listR, nR, lr, beta1, beta2, eps, r_blocks, r_mask, T)
            out[0] += acc
            out[1] += 1.0

    return _remember(key, lambda: specialize(loop, "train_batches_" + "_".join(key[1:]), **_fast()))


def score_candidates(model):
    """Return the compiled scorer of `model`: (p, E, Rinf, anchors, rels, side_tail, out, use_query).

    It fills out[i, e] with the score of (anchor_i, rel_i, e) (tails) or
    (e, rel_i, anchor_i) (heads).  use_query: score against one query vector
    per row (see the scores modules); the caller says False where the query
    form is not exact for these relations (RotatE relations not of unit modulus).
    """
    key = ("candidates", _model_tag(model))
    if key in _COMPILED:
        return _COMPILED[key]
    score_one, make_query, score_query = model.score, model.make_query, model.score_query
    has_query = bool(model.HAS_QUERY)

    def scorer(p, E, Rinf, anchors, rels, side_tail, out, use_query):
        query = use_query and has_query
        for i in prange(anchors.shape[0]):
            a = E[anchors[i]]
            r = Rinf[rels[i]]
            if query:
                q = np.empty(E.shape[1], dtype=E.dtype)
                make_query(side_tail, a, r, q)
                for e in range(E.shape[0]):
                    out[i, e] = score_query(p, E[e], q)
            elif side_tail:
                for e in range(E.shape[0]):
                    out[i, e] = score_one(p, a, r, E[e])
            else:
                for e in range(E.shape[0]):
                    out[i, e] = score_one(p, E[e], r, a)

    return _remember(key, lambda: specialize(scorer, "score_candidates_" + key[1], parallel=True, **_fast()))


def relation_table(model):
    """Return the compiled (R, dri, tau) -> inference form of every relation row of `model`."""
    key = ("relations", _model_tag(model))
    if key in _COMPILED:
        return _COMPILED[key]
    rel_infer = model.rel_infer

    def table(R, dri, tau):
        out = np.zeros((R.shape[0], dri), dtype=np.float32)
        aux = np.zeros(max(R.shape[1], 1), dtype=np.float32)
        state = np.ones(1, dtype=np.uint64)
        for i in range(R.shape[0]):
            rel_infer(R[i], tau, state, out[i], aux)
        return out

    return _remember(key, lambda: specialize(table, "relation_table_" + key[1]))


def _remember(key, make):
    """Return the dispatcher made for key, making it once per process (whatever thread asks first)."""
    with _LOCK:
        if key not in _COMPILED:
            _COMPILED[key] = make()
        return _COMPILED[key]


def _fast() -> dict:
    """FAST without the options `specialize` sets itself."""
    return {k: v for k, v in FAST.items() if k not in ("cache", "nogil")}
