"""Thread counts, changed only inside a context that restores them."""
import ctypes
from contextlib import contextmanager

import numba

from . import checks

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
    """Per BLAS library, set(n) -> previous count for the calling thread only, where the library allows.

    OpenBLAS (0.3.27 on) has openblas_set_num_threads_local. openblas_set_num_threads, what
    threadpoolctl calls, changes every thread's count from the main thread and nothing from any
    other: measured here, a matrix-path gradient from a second thread then ran BLAS on 2 threads
    and differed in the last bit. Other BLAS libraries fall back to the process-wide setting.
    """
    global _setters
    if _setters is None:
        _setters = []
        for lib in _blas_libraries():
            try:
                setter = ctypes.CDLL(lib.filepath).openblas_set_num_threads_local
                setter.argtypes = [ctypes.c_int]
                setter.restype = ctypes.c_int
            except (OSError, AttributeError):
                setter = _global_setter(lib)
            _setters.append(setter)
    return _setters


_setters = None


@contextmanager
def one_blas_thread():
    """Run the block with BLAS on one thread in the calling thread, then restore its count.

    Thread-local: calls from several Python threads may overlap and each gets one BLAS thread.
    A few microseconds; threadpoolctl's limit() re-reads every library's state first and cost
    about 30 microseconds a call.
    """
    before = [setter(1) for setter in _local_setters()]
    try:
        yield
    finally:
        for setter, n in zip(_local_setters(), before):
            setter(n)


@contextmanager
def using_threads(n_threads):
    """Run the block with ``n_threads`` Numba threads (None: leave as is), then restore."""
    if n_threads is None:
        yield
        return
    n = checks.check_int(n_threads, "n_threads", 1)
    if n > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"n_threads must be <= {numba.config.NUMBA_NUM_THREADS} (the cores Numba "
                         f"started with), got {n}")
    previous = numba.get_num_threads()
    if n == previous:  # nothing to set or restore (each set costs a microsecond)
        yield
        return
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
