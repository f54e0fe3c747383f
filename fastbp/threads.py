"""Thread counts, changed only inside a context that restores them."""
import ctypes
import importlib.metadata
import os
from contextlib import nullcontext

import numba

from . import checks, kernels

_blas = None


def _blas_libraries():
    """Threadpoolctl's handles on the BLAS libraries, SciPy's (which Numba's np.dot calls) included."""
    global _blas
    if _blas is None:
        import scipy.linalg.cython_blas  # noqa: F401  (loads the library Numba calls)
        from threadpoolctl import ThreadpoolController
        _blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return _blas


def _global_setter(lib):
    """set(n) -> previous count, process-wide (for a BLAS without a thread-local setting)."""
    def setter(n):
        before = lib.num_threads
        lib.set_num_threads(n)
        return before
    return setter


def _local_setters():
    """For the BLAS library the kernels call, set(n) -> previous count for the calling thread only.

    None for MKL, which fastbp runs sequentially (kernels.blas); for OpenBLAS, SciPy's library, or
    every BLAS library in the process where SciPy's cannot be told apart.

    OpenBLAS (0.3.27 on) has openblas_set_num_threads_local. openblas_set_num_threads, what
    threadpoolctl calls, changes every thread's count from the main thread and nothing from any
    other: measured here, a matrix-path gradient from a second thread then ran BLAS on 2 threads
    and differed in the last bit. Other BLAS libraries fall back to the process-wide setting.
    """
    global _setters
    if _setters is None:
        _setters = []
        if kernels.BLAS_BACKEND == "mkl":
            return _setters
        libraries = _blas_libraries()
        try:  # SciPy's own OpenBLAS, where it ships one (NumPy's is another library, which the kernels never call)
            files = {os.path.realpath(f.locate()) for f in importlib.metadata.distribution("scipy").files or ()
                     if "blas" in f.name}
        except importlib.metadata.PackageNotFoundError:
            files = set()
        for lib in [lib for lib in libraries if os.path.realpath(lib.filepath) in files] or libraries:
            try:
                setter = ctypes.CDLL(lib.filepath).openblas_set_num_threads_local
                setter.argtypes = [ctypes.c_int]
                setter.restype = ctypes.c_int
            except (OSError, AttributeError):
                setter = _global_setter(lib)
            _setters.append(setter)
    return _setters


_setters = None


def one_blas_thread():
    """Set the kernels' BLAS to one thread in the calling thread; returns what restore_blas_threads needs.

    Thread-local: calls from several Python threads may overlap and each gets one BLAS thread.
    Well under a microsecond; threadpoolctl's limit() re-reads every library's state first and cost
    about 30 microseconds a call.
    """
    return [setter(1) for setter in _local_setters()]


def restore_blas_threads(before):
    """Undo one_blas_thread (its result in `before`)."""
    for setter, n in zip(_local_setters(), before):
        setter(n)


def using_threads(n_threads):
    """Run the block with ``n_threads`` Numba threads (None: leave as is), then restore."""
    if n_threads is None:
        return nullcontext()
    n = checks.check_int(n_threads, "n_threads", 1)
    if n > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"n_threads must be <= {numba.config.NUMBA_NUM_THREADS} (the cores Numba "
                         f"started with), got {n}")
    return _Threads(n)


class _Threads:
    """The context of using_threads: a class, entered on every gradient call (a generator cost 1 us more)."""

    __slots__ = ("n", "previous")

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.previous = numba.get_num_threads()
        if self.n != self.previous:  # else nothing to set or restore (each set costs a microsecond)
            numba.set_num_threads(self.n)

    def __exit__(self, *exc):
        if self.n != self.previous:
            numba.set_num_threads(self.previous)
