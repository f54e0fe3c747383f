"""Thread counts, changed only inside a context that restores them."""
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


@contextmanager
def blas_threads(n):
    """Run the block with every BLAS library limited to n threads, then restore.

    Talks to the libraries directly (a few microseconds); threadpoolctl's limit() re-reads
    every library's state first and cost about 30 microseconds a call.
    """
    changed = []
    for lib in _blas_libraries():
        before = lib.num_threads
        if before != n:
            lib.set_num_threads(n)
            changed.append((lib, before))
    try:
        yield
    finally:
        for lib, before in changed:
            lib.set_num_threads(before)


@contextmanager
def using_threads(n_threads):
    """Run the block with ``n_threads`` Numba threads (None: leave as is), then restore."""
    if n_threads is None:
        yield numba.get_num_threads()
        return
    n = checks.check_int(n_threads, "n_threads", 1)
    if n > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"n_threads must be <= {numba.config.NUMBA_NUM_THREADS} (the cores Numba "
                         f"started with), got {n}")
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(previous)
