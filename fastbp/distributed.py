"""Data-parallel training on a Dask cluster: the same gradients, computed where the rows live.

Needs dask and distributed (``pip install 'fastbp[distributed]'``). ``X`` and ``Y`` are split into
row partitions (the row chunks of a dask array; NumPy arrays are cut into ``partitions`` equal
blocks) that the workers validate, cast and keep in memory for the whole run. Every step sends
the parameters once to each worker; each partition's task computes its gradient sum and loss sum
with fastbp's kernels on its own rows; the client adds the partitions' sums in partition order
and takes the optimizer's step. The partitions and that order do not depend on the number of
workers or on timing, so neither do the results: the same data and seed give the same bits on
one worker or ten.

A worker lost mid-run costs a recomputation: Dask rebuilds its partitions from their recipe
(the dask array's graph; for NumPy input the blocks travel in the graph) on the workers left, and
the step goes on. When it cannot (no worker left, the scheduler gone), :class:`ClusterError`
says so, and the model keeps the parameters of the last whole step.
"""
import copy
import threading
import time

import numpy as np

try:
    import dask.array as da
    from dask import delayed
    from distributed import Client, get_client, get_worker
except ImportError as error:  # pragma: no cover - the extra is missing
    raise ImportError("fastbp.distributed needs dask and distributed: pip install 'fastbp[distributed]'") from error

from . import checks, connectivity, engine, kernels
from .model import MLP
from .threads import using_threads
from .training import FitOptions, History, run_epochs, validation_arrays, validator

#: NumPy arrays are cut into this many row blocks unless told (fixed, so results do not depend on the cluster)
PARTITIONS = 8


class ClusterError(RuntimeError):
    """The cluster could not finish a step; the model holds the parameters of the last whole step."""


# -- on the workers ------------------------------------------------------------------------
_local = threading.local()


def _worker_net(spec):
    """The calling worker thread's network of this architecture (parameters overwritten per task)."""
    nets = getattr(_local, "nets", None)
    if nets is None:
        nets = _local.nets = {}
    if spec not in nets:
        nets[spec] = _net_of(spec)
    return nets[spec]


def _spec_of(net):
    """What a worker needs to build `net`'s architecture: hashable (a key of _worker_net's cache).

    The masks of a sparse network travel as packed bits.
    """
    masks = None if net._masks is None else np.packbits(connectivity.pack(net._masks)).tobytes()
    return tuple(net.sizes), tuple(net.hidden), net.output, net.loss_name, net.dtype.str, masks


def _net_of(spec):
    """A network of the architecture `spec` describes (_spec_of); its parameters are not the model's."""
    sizes, hidden, output, loss, dtype, bits = spec
    masks = None
    if bits is not None:
        n_edges = kernels.edge_count(sizes)
        flat = np.unpackbits(np.frombuffer(bits, dtype=np.uint8), count=n_edges).astype(bool)
        masks = connectivity.unpack(flat, sizes)
    return MLP(list(sizes), hidden=list(hidden), output=output, loss=loss, dtype=dtype, connectivity=masks)


def _threads():
    """Numba threads for a task: the worker's thread count (its tasks run one per thread)."""
    try:
        return get_worker().state.nthreads
    except ValueError:  # not on a worker (a local scheduler): as set
        return None


def _prepare(X, Y, spec, mean, scale):
    """A partition (X_i, Y_i) checked and cast as MLP.fit does (standardized when the model is)."""
    net = _net_of(spec)
    net.input_mean, net.input_scale = mean, scale
    X = net._inputs(np.asarray(X))
    return X, net._targets(np.asarray(Y), X.shape[0])


def _value(x):
    return x


def _gradient_sum(part, params, spec, lo, hi):
    """(gradient summed over the partition's rows lo..hi-1, their summed loss)."""
    X, Y = part
    net = _worker_net(spec)
    net.params[:] = params
    grad = np.empty(net.n_params, net.dtype)
    with using_threads(_threads()):
        loss = engine.batch_gradient(net, X, Y, np.arange(lo, hi, dtype=np.int64), 0.0, grad, engine.workspace(net),
                                     summed=True)
    return grad, loss


def _loss_sum(part, params, spec):
    X, Y = part
    net = _worker_net(spec)
    net.params[:] = params
    with using_threads(_threads()):
        return engine.forward(net, X, Y, engine.workspace(net), False)[0]


def _shuffled(part, seed, index):
    """The partition's rows in this epoch's order: a permutation drawn from (seed, partition index)."""
    X, Y = part
    order = np.random.default_rng([seed, index]).permutation(X.shape[0])
    return X[order], Y[order]


def _local_steps(part, params, optimizer, spec, lo, hi, batch, lr, l2):
    """Steps of `batch` rows over the partition's rows lo..hi-1 from params: (new params, optimizer, loss sum)."""
    X, Y = part
    net = _worker_net(spec)
    net.params[:] = params
    optimizer = copy.deepcopy(optimizer).start(net, carry=True)  # tasks on one worker share the object sent
    grad = np.empty(net.n_params, net.dtype)
    with using_threads(_threads()):
        loss = optimizer.minibatch_epoch(net, X, Y, np.arange(lo, hi, dtype=np.int64), batch, lr, l2,
                                         engine.workspace(net), grad)[0]
    return net.params.copy(), optimizer, loss


# -- on the client -------------------------------------------------------------------------
class _Partitions:
    """X, Y as row partitions held in the workers' memory: futures of (X_i, Y_i), and their row counts."""

    def __init__(self, net, X, Y, client, partitions):
        self.client = client
        self.net = net
        self.spec = _spec_of(net)
        X, Y = _as_dask(net, X, Y, partitions)
        counts = X.chunks[0]
        if any(np.isnan(c) for c in counts):
            X = X.compute_chunk_sizes()
            Y = Y.rechunk({0: X.chunks[0]})
            counts = X.chunks[0]
        self.counts = np.array(counts, dtype=np.int64)
        self.n = int(self.counts.sum())
        if self.n == 0:
            raise ValueError("X must have at least one row, got 0")
        mean, scale = net.input_mean, net.input_scale
        tasks = [delayed(_prepare, pure=True)(x, y, self.spec, mean, scale)
                 for x, y in zip(X.to_delayed().ravel(), Y.to_delayed().ravel())]
        self.futures = client.compute(tasks)

    def params(self):
        """The parameters as a task's result, which each worker fetches once.

        A lost copy is rebuilt from the task (scattered data would be gone with its worker).
        """
        return self.client.submit(_value, self.net.params.copy(), pure=False)

    def gradient_sums(self, parts, spans):
        """Per partition with rows, (its gradient sum over rows lo..hi-1, loss sum), in partition order."""
        sent = self.params()
        futures = [self.client.submit(_gradient_sum, part, sent, self.spec, lo, hi, pure=False)
                   for part, (lo, hi) in zip(parts, spans) if hi > lo]
        return self.client.gather(futures)

    def loss_sum(self):
        sent = self.params()
        return sum(self.client.gather([self.client.submit(_loss_sum, part, sent, self.spec, pure=False)
                                for part in self.futures]))


def _as_dask(net, X, Y, partitions):
    """(X, Y) as dask arrays with the same row chunks and one chunk of columns."""
    if not isinstance(X, da.Array):
        X = checks.as_inputs(X, net.sizes[0], net.dtype, "X")  # checked here at once; standardized on the workers
        Y = net._targets(Y, X.shape[0])
        rows = -(-X.shape[0] // min(partitions, max(1, X.shape[0])))
        X = da.from_array(X, chunks=(rows, -1))
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D dask array (rows, features), got {X.ndim} dimensions")
    X = X.rechunk({1: -1})
    if not isinstance(Y, da.Array):
        Y = np.asarray(Y)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"Y must have one row per row of X ({X.shape[0]}), got {Y.shape[0]}")
        Y = da.from_array(Y, chunks=(X.chunks[0],) + tuple((s,) for s in Y.shape[1:]))
    elif not (np.isnan(X.shape[0]) or np.isnan(Y.shape[0])) and Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must have one row per row of X ({X.shape[0]}), got {Y.shape[0]}")
    else:
        Y = Y.rechunk({0: X.chunks[0], **{a: -1 for a in range(1, Y.ndim)}})
    return X, Y


def _client(client):
    """The Dask client to use: `client`, or the current one; a clear error for anything else."""
    if isinstance(client, Client):
        return client
    if isinstance(client, str):
        raise TypeError(f"client must be a distributed.Client, got the address {client!r}: connect first, "
                        f"client=distributed.Client({client!r})")
    if client is not None:
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
    try:
        return get_client()
    except ValueError:
        raise ValueError("no Dask client: pass client=distributed.Client(...) or create one first "
                         "(Client(), Client('tcp://scheduler:8786'))") from None


def _reduce(results, n_params, dtype):
    """The partitions' (gradient sum, loss sum) added in partition order."""
    grad = np.zeros(n_params, dtype)
    loss = 0.0
    for g, c in results:
        grad += g
        loss += c
    return grad, loss


def _mean_gradient(net, total, m, l2):
    """d(mean loss over m rows + 0.5 l2 |W|^2)/dparams from the summed gradient."""
    grad = total * net.dtype.type(1.0 / m)
    net.add_penalty_gradient(grad, l2)
    return grad


def gradient(net, X, Y, l2=0.0, client=None, partitions=PARTITIONS):
    """Gradient of ``net.loss(X, Y, l2)`` with respect to ``net.params``, computed on the cluster.

    Parameters
    ----------
    net : MLP
    X, Y : dask arrays chunked by rows, or arrays (cut into `partitions` row blocks)
        As ``MLP.fit`` takes them.
    l2 : float >= 0
    client : distributed.Client, default the current one
    partitions : int >= 1, default 8
        Row blocks of NumPy input (dask arrays keep their chunks).

    Returns
    -------
    ndarray (n_params,)
        Laid out like ``params``; equal to ``net.gradient(X, Y, l2)`` up to the order of the sums.
    """
    l2 = checks.check_float(l2, "l2", low=0.0)
    partitions = checks.check_int(partitions, "partitions", 1)
    rows = _Partitions(net, X, Y, _client(client), partitions)
    spans = [(0, c) for c in rows.counts]
    total, _ = _reduce(rows.gradient_sums(rows.futures, spans), net.n_params, net.dtype)
    return _mean_gradient(net, total, rows.n, l2)


def fit(net, X, Y, mode="batch", epochs=10, lr=0.1, batch_size=32, l2=0.0, optimizer="sgd", momentum=0.0,
        shuffle=True, seed=None, validation=None, patience=None, callback=None, progress=False, client=None,
        partitions=PARTITIONS, sync_every=1, on_start=None):
    """Train `net` in place on data held by a Dask cluster; returns a :class:`~fastbp.History`.

    The options mean what they mean in ``MLP.fit`` (modes "batch" and "minibatch" only).
    Batch mode takes one step per epoch from the gradient of every row; minibatch mode takes
    ceil(n / batch_size) steps per epoch, each from ceil(n_i / steps) rows of every partition i
    (its rows in a new order each epoch when shuffling, drawn from `seed` and the partition's index).

    Parameters
    ----------
    net : MLP
    X, Y : dask arrays chunked by rows, or arrays (cut into `partitions` row blocks)
    mode : {"batch", "minibatch"}, default "batch"
    epochs, lr, batch_size, l2, optimizer, momentum, shuffle, seed, patience, callback, progress, on_start
        As in ``MLP.fit``.
    validation : (X_val, Y_val) or None
        Evaluated in this process after each epoch (dask arrays are computed once).
    client : distributed.Client, default the current one
    partitions : int >= 1, default 8
        Row blocks of NumPy input (dask arrays keep their chunks).
    sync_every : int >= 1, default 1
        Minibatch mode: each partition takes this many local steps (its own rows, the
        optimizer's state carried) between averages of the parameters and the optimizer's state,
        weighted by rows (local SGD: fewer round trips, a different trajectory). 1: every
        step is one step on the whole minibatch's mean gradient.

    Returns
    -------
    History
        As ``MLP.fit``'s; compile_seconds is the time to load the partitions into the workers and
        to compile (or load) their kernels.

    Raises
    ------
    ClusterError
        When the cluster cannot finish a step (its workers or scheduler gone for good); the model
        then holds the parameters of the last whole step.
    """
    if mode not in ("batch", "minibatch"):
        raise ValueError(f"mode must be 'batch' or 'minibatch' on a cluster, got {mode!r}")
    options = FitOptions.checked(mode=mode, epochs=epochs, lr=lr, batch_size=batch_size, l2=l2, momentum=momentum,
                                 optimizer=optimizer, shuffle=shuffle, seed=seed, gradient="backprop",
                                 schedule="constant", power_t=0.5, patience=patience, callback=callback,
                                 progress=progress, n_threads=None, on_start=on_start)
    sync_every = checks.check_int(sync_every, "sync_every", 1)
    partitions = checks.check_int(partitions, "partitions", 1)
    if sync_every > 1 and mode != "minibatch":
        raise ValueError(f"sync_every is an option of mode='minibatch', got sync_every={sync_every} with mode={mode!r}")
    client = _client(client)
    if isinstance(validation, (tuple, list)):  # dask arrays computed once, here
        validation = tuple(np.asarray(v.compute()) if isinstance(v, da.Array) else v for v in validation)
    X_val, Y_val = validation_arrays(net, validation)
    if not net._fitting.acquire(blocking=False):
        raise RuntimeError("fit is already running on this network in another thread")
    try:
        return _Run(net, X, Y, X_val, Y_val, options, client, partitions, sync_every).history
    finally:
        net._fitting.release()


class _Run:
    """One distributed fit: the partitions, the optimizer, the epochs (training.run_epochs)."""

    def __init__(self, net, X, Y, X_val, Y_val, o, client, partitions, sync_every):
        self.net, self.o, self.sync_every, self.steps = net, o, sync_every, 0
        self.optimizer = o.optimizer.start(net)
        self.history = History()
        start = time.perf_counter()
        self.rows = self._guarded(lambda: _Partitions(net, X, Y, client, partitions))
        n = self.rows.n
        self.n_steps = 1 if o.mode == "batch" else -(-n // min(o.batch_size, n))
        self._guarded(lambda: self.rows.gradient_sums(self.rows.futures, self._spans(0, 1)))  # compiles, loads
        self.history.compile_seconds = time.perf_counter() - start

        def next_order():  # an epoch's seed for the partitions' permutations
            return int(o.seed.integers(2 ** 63)) if o.shuffle and o.mode == "minibatch" else None

        self.history = run_epochs(net, o, n, next_order, self._epoch,
                                  lambda: self._guarded(self.rows.loss_sum) / n + net.penalty(o.l2),
                                  validator(net, X_val, Y_val, engine.workspace(net)), self.history,
                                  self.optimizer)

    def _spans(self, first, steps):
        """Per partition, its rows (lo, hi) for steps first, ..., first + steps - 1.

        Step s of an epoch takes rows s c // S .. (s + 1) c // S - 1 of a partition of c rows (S steps per epoch).
        """
        S = self.n_steps
        return [((first * int(c)) // S, ((first + steps) * int(c)) // S) for c in self.rows.counts]

    def _guarded(self, work):
        """Run a step's cluster work; a failure of the cluster becomes a ClusterError naming the last whole step."""
        try:
            return work()
        except (ValueError, TypeError, KeyboardInterrupt):
            raise  # bad data (raised by the workers' checks) or Ctrl-C: as they are
        except Exception as error:
            raise ClusterError(f"the cluster could not finish step {self.steps + 1} ({type(error).__name__}: "
                               f"{error}); the model holds the parameters after step {self.steps}") from error

    def _epoch(self, seed, lr, bar):
        rows, o = self.rows, self.o
        parts = rows.futures
        if seed is not None:
            parts = [rows.client.submit(_shuffled, part, seed, i, pure=False) for i, part in enumerate(parts)]
        if self.sync_every > 1:
            return self._local_epoch(parts, lr)
        total = 0.0
        for s in range(self.n_steps):
            spans = self._spans(s, 1)
            m = sum(hi - lo for lo, hi in spans)
            if m == 0:  # tiny partitions can leave a step empty
                continue
            summed, loss = _reduce(self._guarded(lambda spans=spans: rows.gradient_sums(parts, spans)),
                                   self.net.n_params, self.net.dtype)
            self.optimizer.step(self.net.params, _mean_gradient(self.net, summed, m, o.l2), lr)
            self.steps += 1
            total += loss
        return total

    def _local_epoch(self, parts, lr):
        """Rounds of sync_every local steps per partition, then the row-weighted averages."""
        rows, o, net, k = self.rows, self.o, self.net, self.sync_every
        names = self.optimizer._state_names
        total = 0.0
        for r in range(0, self.n_steps, k):
            def round_trip(r=r):
                sent = rows.params()
                sent_optimizer = rows.client.submit(_value, self.optimizer, pure=False)
                futures, weights = [], []
                steps = min(k, self.n_steps - r)
                for part, (lo, hi) in zip(parts, self._spans(r, steps)):
                    if hi > lo:  # `steps` batches of these rows, the last one shorter
                        futures.append(rows.client.submit(_local_steps, part, sent, sent_optimizer, rows.spec, lo, hi,
                                                          -(-(hi - lo) // steps), lr, o.l2, pure=False))
                        weights.append(hi - lo)
                return rows.client.gather(futures), np.array(weights, dtype=np.float64)
            results, weights = self._guarded(round_trip)
            weights /= weights.sum()
            params = np.zeros(net.n_params, np.float64)
            states = {name: np.zeros(net.n_params, np.float64) for name in names}
            for (p, optimizer, loss), w in zip(results, weights):
                params += w * p
                for name in names:
                    states[name] += w * getattr(optimizer, name)
                total += loss
            net.params[:] = params
            for name in names:
                getattr(self.optimizer, name)[:] = states[name]
            if hasattr(self.optimizer, "t"):  # Adam's step count: the partition that took the most steps
                self.optimizer.t = max(optimizer.t for _, optimizer, _ in results)
            self.steps += min(k, self.n_steps - r)
        return total
