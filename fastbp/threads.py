"""Thread counts, changed only inside a context that restores them."""
from contextlib import contextmanager

import numba

from . import checks


_blas = None


def _blas_controller():
    """threadpoolctl's view of the BLAS libraries, SciPy's (which Numba's np.dot calls) included."""
    global _blas
    if _blas is None:
        import scipy.linalg.cython_blas  # noqa: F401  (loads the library Numba calls)
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController()
    return _blas


@contextmanager
def blas_threads(n):
    """Run the block with BLAS limited to n threads, then restore (about 5 microseconds)."""
    with _blas_controller().limit(limits=n, user_api="blas"):
        yield


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
