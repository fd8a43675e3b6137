"""Helpers for the compiled (numba) kernel modules; imported only by them."""

from __future__ import annotations

import types

from llvmlite import ir
from numba import njit
from numba import types as nbt
from numba.core import cgutils
from numba.extending import intrinsic


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


@intrinsic
def prefetch_row(typingctx, arr, i):
    """Ask the CPU to start loading row i of a C-contiguous 2-D array into cache (every 64-byte line).

    Compiles to one prefetch instruction per cache line and never faults, so
    a kernel can name the rows it will read a little later while it works on
    the current ones: for random rows of a table larger than the cache, the
    memory latency then overlaps with useful work.
    """
    sig = nbt.void(arr, i)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        shape = cgutils.unpack_tuple(builder, ary.shape)
        idx = context.cast(builder, args[1], signature.args[1], nbt.intp)
        ptr = cgutils.get_item_pointer2(context, builder, data=ary.data, shape=shape,
                                        strides=cgutils.unpack_tuple(builder, ary.strides), layout=aryty.layout,
                                        inds=[idx, context.get_constant(nbt.intp, 0)], boundscheck=False)
        i8p = ir.IntType(8).as_pointer()
        base = builder.bitcast(ptr, i8p)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p] + [ir.IntType(32)] * 3), "llvm.prefetch.p0")
        nbytes = builder.mul(shape[1], context.get_constant(nbt.intp, aryty.dtype.bitwidth // 8))
        i32 = ir.IntType(32)
        with cgutils.for_range_slice(builder, context.get_constant(nbt.intp, 0), nbytes,
                                     context.get_constant(nbt.intp, 64)) as (off, _):
            # read access, keep in all cache levels, data cache
            builder.call(fn, [builder.gep(base, [off]), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen
