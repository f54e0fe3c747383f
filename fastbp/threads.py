"""Thread counts, changed only inside a context that restores them."""
import threading
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


_held = {"count": 0, "before": []}  # callers inside one_blas_thread(), and the counts to restore
_held_lock = threading.Lock()


@contextmanager
def one_blas_thread():
    """Run the block with every BLAS library limited to one thread, then restore.

    Calls from several Python threads may overlap: the first in sets the limit, the last out
    restores it, so no call runs BLAS multi-threaded while another holds it to one. Talks to
    the libraries directly (a few microseconds); threadpoolctl's limit() re-reads every
    library's state first and cost about 30 microseconds a call.
    """
    with _held_lock:
        if _held["count"] == 0:
            _held["before"] = [(lib, lib.num_threads) for lib in _blas_libraries()]
            for lib, before in _held["before"]:
                if before != 1:
                    lib.set_num_threads(1)
        _held["count"] += 1
    try:
        yield
    finally:
        with _held_lock:
            _held["count"] -= 1
            if _held["count"] == 0:
                for lib, before in _held["before"]:
                    if before != 1:
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
