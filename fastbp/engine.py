"""Which kernel computes a batch gradient, with which buffers and threads.

The choice depends on the batch and the model only (never on the thread count), so every
choice gives the same bits on any number of threads.
"""
import threading

import numba
import numpy as np

from . import kernels
from .threads import one_blas_thread

# Batch gradients run on threads from this many multiply-adds (rows x edges) up; either build
# gives the same bits. Measured on 2 cores: 64-32-10 at 64 rows (1.5e5) ran 1.6x faster on two
# threads, 784-128-10 at 64 rows 1.9x; one chunk (32 rows or fewer) gains nothing from threads.
PARALLEL_MIN_WORK = 100_000
# Networks with this many edges or more compute batch gradients as matrices with BLAS products
# (kernels.blocked); smaller ones sample by sample in chunks. Measured on 2 cores: 784-128-10 was
# 2.2x faster as matrices at 4096 rows and 1.2x at 1 row; 64-32-10 (2,368 edges) was 2.1x faster
# sample by sample at 4096 rows and no slower at 1 to 256 rows.
BLOCKED_MIN_EDGES = 10_000
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
        self.dtype = net.dtype
        self.sample = aligned_zeros(kernels.sample_work_size(net.sizes), net.dtype)
        self._partial = np.empty((0, net.n_params), dtype=net.dtype)
        self._work = np.zeros((0, 0), dtype=net.dtype)

    def chunks(self, n_chunks, work_len):
        """(partial (n_chunks, P), work (n_chunks, work_len)), reusing what earlier calls allocated."""
        if self._partial.shape[0] < n_chunks:
            self._partial = np.empty((n_chunks, self.n_params), dtype=self.dtype)
        if self._work.shape[0] < n_chunks or self._work.shape[1] < work_len:
            self._work = np.zeros((max(n_chunks, self._work.shape[0]), max(work_len, self._work.shape[1])),
                                  dtype=self.dtype)
        return self._partial[:n_chunks], self._work[:n_chunks]


def batch_gradient(net, X, Y, rows, l2, grad, space):
    """Write d(mean loss over rows + 0.5 l2 |W|^2)/dparams into grad; returns the mean loss (no penalty).

    Large networks run as matrices with BLAS products (kernels.blocked), small ones sample by
    sample in fixed chunks (kernels.gradient); threads when the work repays them.
    """
    m = rows.shape[0]
    threaded = m * net.n_edges >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1
    args = dict(net.kernel_args(), loss=net.loss_code, X=X, Y=Y, rows=rows, grad=grad)
    if net.n_edges >= BLOCKED_MIN_EDGES:
        spare, work = space.chunks(1, kernels.block_work_size(net.sizes, m))
        kernel = kernels.blocked_parallel if threaded else kernels.blocked_serial
        with _one_matrix_call, one_blas_thread():  # the blocks are the threads; each BLAS call runs on one
            c = kernel(spare=spare[0], work=work[0], **args)
    else:
        n_chunks = kernels.chunk_count(m, net.n_params)
        partial, work = space.chunks(n_chunks, kernels.sample_work_size(net.sizes) + 1)
        kernel = kernels.gradient_parallel if threaded and n_chunks > 1 else kernels.gradient_serial
        c = kernel(partial=partial, work=work, **args)
    grad *= net.dtype.type(1.0 / m)
    if l2:
        for gW, W in zip(net.layer_views(grad)[0], net.weights):
            gW += net.dtype.type(l2) * W
    return float(c) / m
