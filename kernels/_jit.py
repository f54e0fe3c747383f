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
import functools
import hashlib
import inspect
import types

import llvmlite.binding as llvm
import numba
from llvmlite import ir
from numba import types as nbtypes
from numba.core import cgutils
from numba.core.caching import FunctionCache
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


def jit_part(fn, parallel=False):
    """A kernel compiled apart and called by name: its machine code is made once per signature and
    shared by every kernel that calls it (the serial and the parallel build of a driver, the forward
    pass and the gradient), where a Numba call links a copy of the callee into each caller, which
    LLVM then optimises again, once per caller and once more per caller of that caller.

    A call in a kernel compiles (or loads from the cache) the part for its argument types and binds
    its native function to a symbol, as kernels.blas binds BLAS; the caller calls that symbol with
    Numba's calling convention, so it still caches: its cache entry names the part and the types,
    and Numba binds them again before it loads the caller (its reload hooks). The symbol's name
    holds a fingerprint of the part's code: a cached caller whose part has changed since is
    compiled again (StalePart), never run against it. Parts return nothing or a scalar and raise
    nothing. With reference counting (a part may allocate) and without re-association, as the
    drivers that call them. parallel: its prange loops run on threads (a part of its own, the same bits).
    """
    if parallel:  # a copy of its own name, so the two builds never share an on-disk cache entry
        fn = _renamed(fn, fn.__name__ + "_parallel", fn.__globals__)
    key = f"{fn.__module__}.{fn.__qualname__}"
    PARTS[key] = numba.njit(parallel=parallel, **dict(OPTIONS, _nrt=True, fastmath=set(FASTMATH - {"reassoc"})))(fn)
    PARTS[key]._cache = _Cache(fn)  # (a part may call parts)
    code = fn.__code__
    _FINGERPRINTS[key] = hashlib.sha256(code.co_code + repr((code.co_varnames, code.co_consts)).encode()).hexdigest()

    names = ", ".join(inspect.signature(fn).parameters)  # an intrinsic takes its arguments by name, no *args
    space = {"_typed_call": _typed_call, "key": key}
    exec(f"def call(typingctx, {names}):\n    return _typed_call(key, ({names},))\n", space)
    call = intrinsic(space["call"])
    call.__doc__ = fn.__doc__
    return call


PARTS = {}  # "module.name": the dispatcher of each part (jit_part)
_FINGERPRINTS = {}  # "module.name": a hash of the part's code
_BOUND = {}  # (name, argument types): the symbol its native function is bound to in this process


class StalePart(Exception):
    """A cached kernel calls a part whose code has changed since it was compiled."""


def _symbol(key, argtypes, fingerprint):
    """The symbol of part `key` for argtypes: the same in every process (Numba's own names are not)."""
    types_hash = hashlib.sha256(repr(argtypes).encode()).hexdigest()[:16]
    return f"fastbp.part.{key}.{types_hash}.{fingerprint[:16]}"


def _typed_call(key, args):
    """(signature, codegen) of a call of part `key` on arguments of types args."""
    argtypes = tuple(nbtypes.unliteral(t) for t in args)
    restype = _bind_part(key, argtypes, _FINGERPRINTS[key])

    def codegen(context, builder, signature, values):
        values = [context.cast(builder, v, t, u) for v, t, u in zip(values, signature.args, argtypes)]
        fn = cgutils.get_or_insert_function(builder.module, context.call_conv.get_function_type(restype, argtypes),
                                            _BOUND[key, argtypes])
        _, out = context.call_conv.call_function(builder, fn, restype, argtypes, values)
        context.active_code_library._reload_init.add(_rebind(key, argtypes))
        return out
    return restype(*args), codegen


@functools.cache
def _rebind(key, argtypes):
    """The reload hook of a caller of part `key` (one object per part and types, so hooks dedupe)."""
    return functools.partial(_bind_part, key, argtypes, _FINGERPRINTS[key])


def _bind_part(key, argtypes, fingerprint=None):
    """Compile (or load) part `key` for argtypes and bind its native function to its symbol; returns its
    return type. fingerprint: the part's, as the caller was compiled against (StalePart if it changed
    or the part is gone)."""
    if fingerprint is None or fingerprint != _FINGERPRINTS.get(key):
        raise StalePart(key)
    dispatcher = PARTS[key]
    dispatcher.compile(argtypes)
    if (key, argtypes) not in _BOUND:
        result = dispatcher.overloads[argtypes]
        symbol = _symbol(key, argtypes, fingerprint)
        llvm.add_symbol(symbol, result.library.get_pointer_to_function(result.fndesc.llvm_func_name))
        _BOUND[key, argtypes] = symbol
    return dispatcher.overloads[argtypes].signature.return_type


class _Cache(FunctionCache):
    """Numba's cache of a kernel, where an entry whose parts have changed since (StalePart) is a miss."""

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except StalePart:
            return None


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
        builds.append(_renamed(fn, fn.__name__ + suffix, names))
    options = dict(OPTIONS, _nrt=True)
    if not reassociate:
        options["fastmath"] = set(FASTMATH - {"reassoc"})
    serial, parallel = numba.njit(**options)(builds[0]), numba.njit(parallel=own_loops, **options)(builds[1])
    for kernel in (serial, parallel):  # (the kernels that call parts)
        kernel._cache = _Cache(kernel.py_func)
    return serial, parallel


def _renamed(fn, name, names):
    """A copy of function fn called `name`, its globals `names`."""
    copy = types.FunctionType(fn.__code__, names, name, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__[:-len(fn.__name__)] + name
    copy.__doc__ = fn.__doc__
    copy.__module__ = fn.__module__
    return copy


@intrinsic
def thread_count(typingctx):
    """numba.get_num_threads() inside a parallel kernel, as a direct call of the threading layer's own
    function: Numba's version goes through a ctypes pointer, which keeps a kernel out of the cache.
    Serial builds take one_thread in its place (jit_serial_and_parallel's calls)."""
    _launch_threads()  # the layer's functions known to LLVM; a cached parallel kernel does this when loaded

    def codegen(context, builder, signature, args):
        context.active_code_library._reload_init.add(_launch_threads)  # the same before a cached caller loads
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(cgutils.intp_t, []), "get_num_threads")
        return builder.call(fn, [])
    return numba.types.intp(), codegen


@jit_inline
def one_thread():
    """thread_count in a serial build."""
    return 1
