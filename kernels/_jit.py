"""The compile options every kernel uses, fixed in one place.

`cache=True` writes machine code next to the sources so a new process skips
LLVM; `error_model="numpy"` drops Python's ZeroDivisionError checks;
the fast-math flags allow re-association (so dot products vectorise) and
fused multiply-add, but never assume away NaN or inf: training must see them.
`_nrt=False` compiles without Numba's reference counting: kernels never allocate,
and each array handed to a compiled call otherwise costs an atomic increment and
decrement (measured: 192 -> 84 ns per loss evaluation on a 256-1-4 network, which
is what the numerical gradient does 2P times).
"""
import types

import numba
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.ufunc.parallel import _launch_threads

FASTMATH = frozenset({"nsz", "arcp", "contract", "reassoc"})
OPTIONS = dict(cache=True, error_model="numpy", fastmath=set(FASTMATH), boundscheck=False, _nrt=False)


def jit(fn):
    """Compile `fn` lazily, serially, with the project's options."""
    return numba.njit(**OPTIONS)(fn)


def jit_inline(fn):
    """A helper that LLVM inlines into its callers: no call per use, which on tiny networks costs
    as much as the arithmetic. Typed and compiled once per signature, then inlined by LLVM
    (`forceinline`), not by Numba's IR inliner, which re-typed the helper at every call site:
    on a fresh cache that cut `fastbp train`'s compile from 5.2 to 3.9 s, per-sample SGD as fast.

    A helper is compiled once more for every literal argument value it meets (Numba specialises
    on constants), so kernels hand helpers run-time values: activations.NO_LOSS and FALSE
    are NumPy scalars for that reason.
    """
    return numba.njit(forceinline=True, **OPTIONS)(fn)


def jit_serial_and_parallel(fn, reassociate=True, calls=(), own_loops=True):
    """(serial, parallel): one source compiled twice, `prange` running as `range` in the first.

    Both with reference counting on, so they may call BLAS kernels. The serial copy gets its
    own name so the two never share an on-disk cache entry. reassociate=False drops the
    "reassoc" fast-math flag: sums written inline in both builds then run in source order, so
    the two builds (vectorised differently) still give the same bits. calls: (source function,
    serial, parallel) triples: where `fn` calls that source function, the serial build calls
    `serial` and the parallel build `parallel` (a kernel built on other serial-and-parallel kernels);
    own_loops=False when `fn` has no prange of its own (its parallel build is then compiled plainly).
    """
    builds = []
    for suffix, pick in (("_serial", 1), ("", 2)):
        names = dict(fn.__globals__)
        for triple in calls:
            names[triple[0].__name__] = triple[pick]
        copy = types.FunctionType(fn.__code__, names, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
        copy.__qualname__ = fn.__qualname__ + suffix
        copy.__doc__ = fn.__doc__
        copy.__module__ = fn.__module__
        builds.append(copy)
    options = dict(OPTIONS, _nrt=True)
    if not reassociate:
        options["fastmath"] = set(FASTMATH - {"reassoc"})
    return numba.njit(**options)(builds[0]), numba.njit(parallel=own_loops, **options)(builds[1])


@intrinsic
def thread_count(typingctx):
    """numba.get_num_threads() inside a parallel kernel, as a direct call of the threading layer's own
    function: Numba's version goes through a ctypes pointer, which keeps a kernel out of the cache.
    Serial builds take one_thread in its place (jit_serial_and_parallel's calls)."""
    _launch_threads()  # the layer's functions known to LLVM; a cached parallel kernel does this when loaded

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(cgutils.intp_t, []), "get_num_threads")
        return builder.call(fn, [])
    return numba.types.intp(), codegen


@jit_inline
def one_thread():
    """thread_count in a serial build."""
    return 1
