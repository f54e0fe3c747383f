"""Which kernel runs a forward pass, a batch gradient or a minibatch epoch, with which buffers and threads.

The choice depends on the rows and the model only (never on the thread count), so every
choice gives the same bits on any number of threads.
"""
import contextlib
import threading
import weakref

import numba
import numpy as np

from . import checks, kernels
from .threads import one_blas_thread, restore_blas_threads

# Batch gradients run on threads from this many multiply-adds (rows x edges) up; either build
# gives the same bits. Measured on 2 cores: 64-32-10 at 64 rows (1.5e5) ran 1.6x faster on two
# threads, 784-128-10 at 64 rows 1.9x; one chunk (32 rows or fewer) gains nothing from threads.
PARALLEL_MIN_WORK = 100_000
# Forward passes and gradients run as matrices with BLAS products (kernels.blocked) from
# MATRIX_MIN_ROWS rows of a network of MATRIX_MIN_EDGES edges up, or from SMALL_MATRIX_MIN_ROWS rows
# of a network of LARGE_NET_EDGES edges up; below, sample by sample (kernels.rows, kernels.gradient).
# Measured on 2 cores (Intel Xeon, float64): at 32 rows the matrix path was faster on every network
# from 8-16-4 (192 edges: gradient 12.7 against 15.9 us) to 64-32-10 (17.9 against 34.6 us), at
# 1,000 rows 2-4.7x faster; at 8 rows it won the gradient from 1,200 edges on but lost the forward
# pass up to 2,368 edges (9.0 against 7.0 us); at 1 row of 784-128-10 it lost (73 against 59 us).
MATRIX_MIN_ROWS = 32
MATRIX_MIN_EDGES = 100
SMALL_MATRIX_MIN_ROWS = 8
LARGE_NET_EDGES = 10_000
# A sparse network runs as (dense) matrices, its masked gradients zeroed, from this density up;
# below, its per-sample loops visit live edges only (kernels.live). Measured on 2 cores (Intel Xeon,
# float64, tanh/softmax, gradients and forward passes of 32 and 256 rows), live-edge time over matrix
# time: at 1% 0.28-0.57 (784-128-10, 784-256-256-10), 0.84-1.15 (784-1024-1024-10); at 3% 0.50-0.96
# and 2.7-3.0; at 10% 1.8-5.7. The dense-layout gradient's O(all edges) zeroing and merging is
# part of both.
MATRIX_MIN_DENSITY = 0.03
# Matrix-path calls run one at a time in the process. Each already uses every core (prange), and
# when two overlapped, the BLAS products inside the blocks came out different in the last bit in
# 5 of 20 concurrent calls (120-100-5, 500 rows): OpenBLAS's threading then depends on timing.
_one_matrix_call = threading.Lock()


def aligned_zeros(n, dtype, align=64):
    """A zeroed 1-D array whose data start on an `align`-byte boundary (vector loads like it)."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(n * itemsize + align, dtype=np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + n * itemsize].view(dtype)


class Workspace:
    """The buffers of one caller's kernel calls on one model, grown on demand.

    ``sample``: the per-sample kernels' work row. The batch gradient's per-chunk partial sums
    and work rows (or the matrix kernel's blocks) come from :meth:`chunks`. A workspace is never
    shared between threads: ``MLP.gradient`` and the other one-off calls make their own, ``fit``
    makes one per run, so concurrent calls on one model never write the same buffer.
    """

    def __init__(self, net):
        self.n_params = net.n_params
        self.n_live = 0 if net._masks is None else net.n_edges
        self.dtype = net.dtype
        self.sizes = net.sizes
        self.sample = aligned_zeros(kernels.sample_work_size(net.sizes, self.n_live), net.dtype)
        self._work_len = self.sample.shape[0] + 1
        self._partial = np.empty((0, net.n_params), dtype=net.dtype)
        self._work = np.zeros((0, 0), dtype=net.dtype)
        self._matrix = np.zeros(0, dtype=net.dtype)

    def chunks(self, m):
        """(partial (n_chunks, P), work (n_chunks, sample work + 1)): the chunked gradient's buffers for m rows."""
        n_chunks = kernels.chunk_count(m, self.n_params)
        work_len = self._work_len
        if self._partial.shape[0] < n_chunks:
            self._partial = np.empty((n_chunks, self.n_params), dtype=self.dtype)
        if self._work.shape[0] < n_chunks or self._work.shape[1] < work_len:
            self._work = np.zeros((max(n_chunks, self._work.shape[0]), max(work_len, self._work.shape[1])),
                                  dtype=self.dtype)
        return self._partial[:n_chunks], self._work[:n_chunks]

    def matrix(self, m):
        """The matrix kernel's work buffer for m rows (kept for the next call up to KEEP_BYTES)."""
        n = kernels.block_work_size(self.sizes, m)
        if self._matrix.shape[0] < n:
            buffer = aligned_zeros(n, self.dtype)
            if n * self.dtype.itemsize > KEEP_BYTES:
                return buffer
            self._matrix = buffer
        return self._matrix[:n]


#: a workspace keeps a matrix buffer of at most this size for its next call (larger ones are freed)
KEEP_BYTES = 64 << 20
_local = threading.local()


def workspace(net):
    """The calling thread's workspace for one-off calls on `net` (forward, loss, gradient), kept between them.

    A first call pays for allocating and touching the buffers (at 4,096 rows of 784-128-10, as
    long as the forward pass itself); later ones reuse them. Each thread has its own.
    """
    spaces = getattr(_local, "spaces", None)
    if spaces is None:
        spaces = _local.spaces = weakref.WeakKeyDictionary()
    space = spaces.get(net)
    if space is None or space.n_params != net.n_params or space.dtype != net.dtype or \
            space.n_live != (0 if net._masks is None else net.n_edges):
        space = spaces[net] = Workspace(net)
    return space


def uses_matrices(net, m):
    """Whether m rows of `net` run as matrices (kernels.blocked) rather than sample by sample."""
    if net._masks is not None and net.density < MATRIX_MIN_DENSITY:
        return False
    if net.n_edges >= LARGE_NET_EDGES:
        return m >= SMALL_MATRIX_MIN_ROWS
    return m >= MATRIX_MIN_ROWS and net.n_edges >= MATRIX_MIN_EDGES


def threaded(net, m):
    """Whether work on m rows runs on threads (either build gives the same bits)."""
    return m * net.n_edges >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1


def _matrix_kernel(net, m, serial=False):
    return kernels.matrix_parallel if threaded(net, m) and not serial else kernels.matrix_serial


class _MatrixCall:
    """Around a kernel that may call BLAS: one such call at a time, BLAS on one thread.

    The kernel's blocks are the threads. A class, not a generator: entered on every call, it
    costs 0.7-1.3 us here, where two generator-based contexts cost 2-3 us.
    """

    __slots__ = ("before",)

    def __enter__(self):
        _one_matrix_call.acquire()
        try:
            self.before = one_blas_thread()
        except BaseException:
            _one_matrix_call.release()
            raise

    def __exit__(self, *exc):
        try:
            restore_blas_threads(self.before)
        finally:
            _one_matrix_call.release()


def matrix_call(matrices):
    """The context for a kernel call that may use BLAS (see _MatrixCall); nothing when `matrices` is False."""
    return _MatrixCall() if matrices else contextlib.nullcontext()


def _matrix_pass(net, m, check, serial=False, **args):
    """The matrix kernel over m rows (not updating); returns its summed loss.

    check: as in batch_gradient. serial: on one thread, whatever m (the same bits).

    The kernel's check answers NaN for a NaN or inf in X, and also for a product that overflowed or
    a NaN loss (non-finite parameters): check_finite then tells which, naming `check` if X; for the
    others the call runs again without the check, for its own sum (rare inputs pay twice).
    """
    kernel = _matrix_kernel(net, m, serial)
    with matrix_call(True):
        c = kernel(check=check is not None, update=False, decay=net.dtype.type(0), **args)
    if check and c != c:
        checks.check_finite(args["X"], check)
        with matrix_call(True):
            c = kernel(check=False, update=False, decay=net.dtype.type(0), **args)
    return c


def batch_gradient(net, X, Y, rows, l2, grad, space, summed=False, check=None, like_rows=None):
    """Write d(mean loss over rows + 0.5 l2 |W|^2)/dparams into grad; returns the mean loss (no penalty).

    summed: the sum over the rows instead, of the gradient (l2 must be 0) and of the loss.
    check: X's name when X is still to be checked for NaN and inf (ValueError naming it), for a
    call over all its rows; None when it has been.
    Many rows of a large enough network run as matrices with BLAS products (kernels.blocked),
    others sample by sample in fixed chunks (kernels.gradient); threads when the work repays them.
    like_rows: pick the kernel that like_rows rows would run (a warm-up on no rows compiles it).
    """
    m = rows.shape[0]
    like = m if like_rows is None else like_rows
    args = dict(net.kernel_args(), loss=net.loss_code, X=X, Y=Y, rows=rows, grad=grad)
    if uses_matrices(net, like):
        scale = net.dtype.type(1.0 if summed else 1.0 / m)  # the mean taken in the kernel
        c = _matrix_pass(net, like, check, out=X[:0], work=space.matrix(m), scale=scale, **args)
    else:
        if check:
            checks.check_finite(X, check)
        partial, work = space.chunks(like)
        parallel = partial.shape[0] > 1 and threaded(net, like)
        c = (kernels.gradient_parallel if parallel else kernels.gradient_serial)(partial=partial, work=work, **args)
        if not summed and m > 1:
            grad *= net.dtype.type(1.0 / m)
    net.add_penalty_gradient(grad, l2)
    return float(c) if summed else float(c) / m


def forward(net, X, Y, space, outputs, rows=None, allow_matrices=True, check=None, like_rows=None, serial=False):
    """(summed loss over the rows of X, or 0 when Y is None; the outputs, or none unless asked): one pass.

    rows: the rows to use (default all, in order). Many rows of a large enough network run as
    matrices (kernels.blocked), others sample by sample; allow_matrices=False keeps to the per-sample
    kernel (so that a run that needs no other compiles no other). check: as in batch_gradient.
    like_rows: pick the kernel that like_rows rows would run (a warm-up on no rows compiles it).
    serial: on one thread (the same bits): for a few rows, where the run's other kernels are serial
    and a parallel build would be compiled for this call alone.
    """
    rows = np.arange(X.shape[0], dtype=np.int64) if rows is None else rows
    m = rows.shape[0]
    out = np.empty((m if outputs else 0, net.sizes[-1]), dtype=net.dtype)
    args = dict(net.kernel_args(), loss=kernels.NO_LOSS if Y is None else net.loss_code, X=X,
                Y=out if Y is None else Y, rows=rows, out=out)
    if allow_matrices and uses_matrices(net, m if like_rows is None else like_rows):
        c = _matrix_pass(net, m if like_rows is None else like_rows, check, serial, grad=None, work=space.matrix(m),
                         scale=net.dtype.type(1), **args)
    else:
        if check:
            checks.check_finite(X, check)
        c = kernels.forward_rows(**args, work=space.sample)
    return float(c), out
