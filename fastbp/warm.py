"""Fill Numba's cache ahead of time: ``fastbp compile`` and :func:`precompile`.

Each kernel is compiled once per dtype and argument types, never per network shape, so a few
tiny networks reach every kernel that training, prediction and gradients can take. Which kernel
a call takes depends on its rows, the network's size and the threads (:mod:`fastbp.engine`); for
each such route this module finds a network and a row count that take it, then calls the route
on no rows, which compiles it (or loads it) and changes nothing. Run it once in a Docker image,
a CI job or on each cluster worker, and the first real call then loads machine code instead of
compiling it. The cache goes where Numba puts it: next to the installed kernels, or, when that
folder is read-only, in the user's cache folder (``NUMBA_CACHE_DIR`` overrides both).
"""
import time

import numpy as np

from . import engine
from .model import MLP
from .optimizers import SGD, Adam
from .training import _bar

MODES = ("sgd", "minibatch", "batch")
OPTIMIZERS = {"sgd": SGD, "adam": Adam}
DTYPES = ("float64", "float32")
#: networks to find each route in: dense ones of 2,368, 4,736 and 17,024 edges
_DENSE = ([64, 32, 10], [64, 64, 10], [256, 64, 10])
#: sparse networks (sizes, density): live-edge loops below engine.MATRIX_MIN_DENSITY, matrices above it
_SPARSE = (([256, 64, 10], 0.01), ([64, 32, 10], 0.5), ([256, 64, 10], 0.5))


def _rows_for(net, matrices, threaded):
    """A row count that `net` runs as matrices (or not) on threads (or not), or None if none does."""
    for m in range(1, 4097):
        if engine.uses_matrices(net, m) == matrices and engine.threaded(net, m) == threaded:
            return m
    return None


def _routes(dtype, sparse):
    """[(network, rows, label)]: a network and a row count for each way that calls over rows can run.

    Threads only where Numba has more than one.
    """
    def make(sizes, density=None):
        return MLP(sizes, hidden="tanh", output="softmax", loss="cross_entropy", dtype=dtype, seed=0,
                   connectivity=density)
    nets = [make(sizes, density) for sizes, density in _SPARSE] if sparse else [make(sizes) for sizes in _DENSE]
    found = {}
    for net in nets:
        for way in ((False, False), (False, True), (True, False), (True, True)):
            m = None if way in found else _rows_for(net, *way)
            if m is not None:
                found[way] = (net, m)
    return [(net, m, ("matrices" if way[0] else "rows") + (", threads" if way[1] else ""))
            for way, (net, m) in sorted(found.items())]


def _calls(dtype, modes, optimizers, sparse):
    """[(name, call)]: a call on no rows for each kernel that these options can reach."""
    kind = dtype + (" sparse" if sparse else "")
    calls = []
    routes = _routes(dtype, sparse)
    for net, m, label in routes:
        calls.append((f"forward, {kind}, {label}", _on_no_rows(net, "forward", m)))
        calls.append((f"gradient, {kind}, {label}", _on_no_rows(net, "gradient", m)))
        if {"minibatch", "batch"} & set(modes):  # a batch epoch is one batch of every row
            calls += [(f"{name} minibatch and batch epochs, {kind}, {label}", _on_no_rows(net, name, m))
                      for name in optimizers]
    if "sgd" in modes:  # per-sample epochs: one kernel whatever the rows
        calls += [(f"{name} per-sample epochs, {kind}", _on_no_rows(routes[0][0], name, 0)) for name in optimizers]
    return calls


def _on_no_rows(net, what, m):
    """A call on no rows of `net` that compiles what m rows would run.

    what: "forward", "gradient", or an optimizer's epoch ("sgd", "adam"; m = 0: the per-sample epoch).
    """
    X = np.zeros((0, net.sizes[0]), net.dtype)
    Y = np.zeros((0, net.sizes[-1]), net.dtype)
    grad = np.zeros(net.n_params, net.dtype)

    def call():
        space = engine.Workspace(net)
        if what == "forward":
            engine.forward(net, X, Y, space, False, like_rows=m)
        elif what == "gradient":
            engine.batch_gradient(net, X, Y, np.arange(0, dtype=np.int64), 0.0, grad, space, summed=True, like_rows=m)
        else:
            OPTIMIZERS[what]().start(net).warm_up(net, X, Y, space, grad, "minibatch" if m else "online", m)
    return call


def _names(values, allowed, argument):
    """The names in `values` as a list, each one of `allowed` (ValueError naming the argument otherwise)."""
    values = [values] if isinstance(values, str) else list(values)
    wrong = [v for v in values if v not in allowed]
    if wrong or not values:
        raise ValueError(f"{argument} must name one or more of {', '.join(allowed)}, got {values!r}")
    return values


def precompile(dtypes=DTYPES, modes=MODES, optimizers=tuple(OPTIMIZERS), sparse=False, progress=None):
    """Compile (or load from the cache) every kernel that calls of these kinds can take.

    Parameters
    ----------
    dtypes : names among "float64", "float32", default both
    modes : names among "sgd", "minibatch", "batch", default all
        ``fit``'s modes; forward passes (``forward``, ``predict``, ``loss``, validation) and
        ``gradient`` (and so ``fastbp.distributed``'s steps) are always included.
    optimizers : names among "sgd", "adam", default both
    sparse : bool, default False
        Also the kernels of sparse networks (``connectivity``), below and above the density from
        which they run as matrices.
    progress : bool or None
        A progress bar on stderr; None shows it on a terminal after a second.

    Returns
    -------
    dict
        Seconds per group of kernels, by name, in the order they ran.
    """
    dtypes = _names(dtypes, DTYPES, "dtypes")
    modes = _names(modes, MODES, "modes")
    optimizers = _names(optimizers, tuple(OPTIMIZERS), "optimizers")
    if not isinstance(sparse, (bool, np.bool_)):
        raise TypeError(f"sparse must be True or False, got {sparse!r}")
    calls = [call for dtype in dtypes for s in sorted({False, bool(sparse)})
             for call in _calls(dtype, modes, optimizers, s)]
    bar = _bar(len(calls), "compiling", progress)
    seconds = {}
    try:
        for name, call in calls:
            start = time.perf_counter()
            call()
            seconds[name] = time.perf_counter() - start
            bar.update(1)
    finally:
        bar.close()
    return seconds


def cache_folder():
    """The folder Numba's cache of the kernels is in (as Numba chose it for this process), or None if unknown."""
    from . import kernels
    return getattr(getattr(kernels.sgd_epoch, "_cache", None), "_cache_path", None)
