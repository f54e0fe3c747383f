"""Thread counts, changed only inside a context that restores them."""
from contextlib import contextmanager

import numba

from . import checks


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
