"""Compiled scoring kernels for stored dtypes that BLAS cannot read directly."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import variants


def _dot_int8(data, q, out):
    """out[i] = sum_j data[i, j] * q[j] for int8 rows and a float32 query (scale folded into q)."""
    n, d = data.shape
    for i in prange(n):
        acc = np.float32(0.0)
        for j in range(d):
            acc += np.float32(data[i, j]) * q[j]
        out[i] = acc


# the serial one is for small tables, where starting threads costs more than it saves
dot_int8, dot_int8_serial = variants(_dot_int8, fastmath=True)


@njit(cache=True, nogil=True, parallel=True, fastmath=True)
def dot_int8_many(data, Q, out):
    """out[i, k] = sum_j data[i, j] * Q[k, j] for int8 rows and float32 queries."""
    n, d = data.shape
    m = Q.shape[0]
    for i in prange(n):
        for k in range(m):
            acc = np.float32(0.0)
            for j in range(d):
                acc += np.float32(data[i, j]) * Q[k, j]
            out[i, k] = acc


@njit(cache=True, nogil=True, parallel=True)
def hamming_many(data, Qbits, out):
    """out[i, k] = number of differing bits between packed rows data[i] and Qbits[k]."""
    n, b = data.shape
    m = Qbits.shape[0]
    for i in prange(n):
        for k in range(m):
            c = 0
            for j in range(b):
                x = data[i, j] ^ Qbits[k, j]
                # popcount of one byte
                x = x - ((x >> 1) & 0x55)
                x = (x & 0x33) + ((x >> 2) & 0x33)
                c += (x + (x >> 4)) & 0x0F
            out[i, k] = c
