"""Helpers for the compiled (numba) kernel modules; imported only by them."""

from __future__ import annotations

import types

from numba import njit


def variants(fn, **flags):
    """Return (threaded, serial) compiled versions of the Python function fn.

    numba names a cache entry after the Python function, not its compile
    flags: two dispatchers over one function would load each other's code
    (the threaded one then runs serially).  The serial one therefore gets a
    copy of the function under its own name.  Serial versions exist because
    waking a thread pool costs more than a small job on a busy machine.
    """
    serial_fn = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__,
                                   fn.__closure__)
    serial_fn.__qualname__ = fn.__qualname__ + "_serial"
    serial_fn.__doc__ = fn.__doc__
    return (njit(cache=True, nogil=True, parallel=True, **flags)(fn),
            njit(cache=True, nogil=True, **flags)(serial_fn))
