"""Filtered ranking of a target among all candidates' scores."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def filtered_ranks(scores, targets, qkeys, known_keys, known_ptr, known_ids, out):
    """Write (optimistic, pessimistic) filtered ranks of targets[i] in scores[i] to out[i].

    Candidates that are known true answers of the same query (other than the
    target itself) are left out; qkeys[i] is looked up in the sorted
    known_keys, whose answers are known_ids[known_ptr[j]:known_ptr[j+1]].
    """
    for i in prange(scores.shape[0]):
        row = scores[i]
        tgt = targets[i]
        st = row[tgt]
        gt = 0
        ge = 0
        for e in range(row.shape[0]):
            v = row[e]
            if v > st:
                gt += 1
            elif v == st:
                ge += 1
        # the target itself counted once in ge; non-finite target scores rank last
        if not np.isfinite(st):
            gt = row.shape[0] - 1
            ge = 1
        j = np.searchsorted(known_keys, qkeys[i])
        if j < known_keys.shape[0] and known_keys[j] == qkeys[i]:
            for q in range(known_ptr[j], known_ptr[j + 1]):
                e = known_ids[q]
                if e == tgt:
                    continue
                v = row[e]
                if v > st:
                    gt -= 1
                elif v == st:
                    ge -= 1
        out[i, 0] = gt + 1
        out[i, 1] = gt + ge
