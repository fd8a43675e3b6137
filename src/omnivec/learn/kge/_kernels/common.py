"""What every KGE kernel module shares: compile options, the random generator, projections,
and `specialize`, which compiles one shared loop per combination of member functions."""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np
from numba import njit
from numba.core.caching import FunctionCache

# Options of the arithmetic kernels.  error_model="numpy": a float division by
# zero gives inf/nan instead of raising, so numba emits no zero check inside a
# loop, and loops with a division or square root (Adam's update, norms)
# vectorise; with the default "python" model they stay scalar, about 4x slower.
# The kernels guard their own divisions (norms below 1e-12, Adam's eps).
FAST = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")


# -- random numbers: xorshift64 with explicit state, so runs are reproducible ------------------
@njit(cache=True, nogil=True, inline="always")
def _next(state):
    x = state[0]
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    state[0] = x
    return x


@njit(cache=True, nogil=True, inline="always")
def uniform(state):
    """Return a float in [0, 1) and advance the generator state (a 1-element uint64 array)."""
    return float(_next(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def randint(state, n):
    """Return an int in [0, n) and advance the generator state."""
    return np.int64(_next(state) % np.uint64(n))


# -- small numerics ----------------------------------------------------------------------------
@njit(**FAST)
def sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(**FAST)
def softplus(x):
    if x > 30:
        return x
    return math.log1p(math.exp(x))


@njit(**FAST)
def normalize_blocks(x, nblocks, mask):
    """Scale to unit L2 norm each of the nblocks equal parts of x whose bit is set in mask."""
    w = x.shape[0] // nblocks
    for b in range(nblocks):
        if (mask >> b) & 1:
            s = 0.0
            for k in range(b * w, (b + 1) * w):
                s += x[k] * x[k]
            s = math.sqrt(s)
            if s > 1e-12:
                for k in range(b * w, (b + 1) * w):
                    x[k] /= s


# -- relations whose training form is the inference form ---------------------------------------
@njit(**FAST)
def same_forward(rp, tau, gumbel, state, rinf, aux):
    """Copy the relation parameters rp into rinf (their inference form is themselves)."""
    for k in range(rp.shape[0]):
        rinf[k] = rp[k]


@njit(**FAST)
def same_backward(rp, rinf, grinf, aux, tau, gr):
    """Add grinf, the gradient w.r.t. the inference form, to gr."""
    for k in range(rp.shape[0]):
        gr[k] += grinf[k]


# -- stand-ins for a model without a query form (never called: the loops test HAS_QUERY) -------
@njit(**FAST)
def no_make_query(tail, f, r, q):
    pass


@njit(**FAST)
def no_query_backward(tail, f, r, gq, gf, gr):
    pass


@njit(**FAST)
def no_score_query(p, x, q):
    return 0.0


@njit(**FAST)
def no_grad_query(p, x, q, c, gx, gq):
    pass


# -- one compiled loop per combination of members ------------------------------------------------
_HERE = os.path.dirname(os.path.abspath(__file__))


def _sources_stamp() -> bytes:
    """The names, sizes and modification times of every kernel source file of the KGE package."""
    parts = []
    for folder, _, files in sorted(os.walk(_HERE)):
        for f in sorted(files):
            if f.endswith(".py"):
                st = os.stat(os.path.join(folder, f))
                parts.append(f"{os.path.relpath(os.path.join(folder, f), _HERE)}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts).encode()


class _MemberCache(FunctionCache):
    """numba's on-disk cache for a loop closed over member functions.

    numba keys a closure's cache entry on the pickled closure cells, and a
    pickled dispatcher carries an id that changes every process, so the entry
    would never be found again.  The key here is the loop's bytecode, the
    names of the functions it closes over and the stamps of every kernel
    source file, so an edit to a score or a loss recompiles the loops using it.
    """

    def _index_key(self, sig, codegen):
        cells = []
        for cell in self._py_func.__closure__ or ():
            v = cell.cell_contents
            pf = getattr(v, "py_func", None)
            cells.append(f"{pf.__module__}.{pf.__qualname__}" if pf is not None else repr(v))
        h = hashlib.sha256(b"\0".join([self._py_func.__code__.co_code, "|".join(cells).encode(),
                                       _sources_stamp()])).hexdigest()
        return (sig, codegen.magic_tuple(), (h,))


def specialize(fn, name: str, **options):
    """Compile the closure fn (a loop over member functions it closes over) as `name`, cached on disk.

    The member functions become compile-time constants of the loop, so each
    combination gets straight-line code with no test of which member it runs.
    """
    fn.__name__ = fn.__qualname__ = name
    disp = njit(nogil=True, **options)(fn)
    disp._cache = _MemberCache(disp.py_func)
    return disp
