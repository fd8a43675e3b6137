"""Compiled pooling of static token vectors: the mean row of each text's known tokens."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def mean_rows(V, rows, offsets, normalize, out, counts):
    """Fill out[i] with the mean of V[rows[j]] over offsets[i] <= j < offsets[i+1], rows[j] >= 0.

    counts[i] gets the number of rows averaged; a text without any keeps its
    zero row.  normalize scales each filled row to unit length.
    """
    n = len(offsets) - 1
    d = V.shape[1]
    for i in prange(n):
        acc = np.zeros(d, np.float32)
        c = 0
        for j in range(offsets[i], offsets[i + 1]):
            r = rows[j]
            if r >= 0:
                for k in range(d):
                    acc[k] += V[r, k]
                c += 1
        counts[i] = c
        if c == 0:
            continue
        scale = np.float32(1.0) / np.float32(c)
        if normalize:
            s = 0.0
            for k in range(d):
                s += float(acc[k]) * float(acc[k])
            if s > 0.0:
                scale = np.float32(1.0 / np.sqrt(s))
        for k in range(d):
            out[i, k] = acc[k] * scale
