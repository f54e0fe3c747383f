"""Batch gradients over fixed chunks of samples, serial or on every core, bit for bit the same.

The rows are cut into n_chunks contiguous chunks; each chunk sums its samples' gradients
(rows.gradient_rows) into its own buffer partial[c] and its own work buffer, then every
parameter is summed over the chunks in chunk order. n_chunks comes from the batch and the
model (layout.chunk_count), never from the thread count, so 1 and N threads give the same
bits, and the serial build gives them too.
"""
from numba import prange

from ._jit import jit_serial_and_parallel
from .rows import gradient_rows

MIN_CHUNK = 32  # rows per chunk: a chunk merges P partial sums, which smaller chunks did not
#                repay on 784-128-10
MAX_CHUNKS = 16  # partial buffers; enough for 16 cores, a fixed number whatever the machine
MAX_PARTIAL = 1 << 25  # elements in all partial buffers together (256 MiB of float64)


def _gradient_chunks(params, sizes, offsets, acts, live, loss, X, Y, rows, grad, partial, work):
    """grad = sum over r in rows of dC(X[r], Y[r])/dparams; returns the summed loss.

    partial: (n_chunks, P) per-chunk sums; work: (n_chunks, sample_work_size + 1) per-chunk buffers
    whose last column receives the chunk's loss. Chunk c takes rows[c * size:(c + 1) * size],
    size = ceil(len(rows) / n_chunks).
    """
    n_chunks = partial.shape[0]
    m = rows.shape[0]
    size = (m + n_chunks - 1) // n_chunks
    last = work.shape[1] - 1
    if n_chunks == 1:  # small batches: straight into grad, no partial buffer to fill and merge
        grad[:] = 0
        return gradient_rows(params, sizes, offsets, acts, live, loss, X, Y, rows, grad, work[0])
    for c in prange(n_chunks):
        lo = min(m, c * size)
        hi = min(m, lo + size)
        g = partial[c]
        g[:] = 0
        work[c, last] = gradient_rows(params, sizes, offsets, acts, live, loss, X, Y, rows[lo:hi], g, work[c])
    n_params = params.shape[0]
    block = 4096
    for b in prange((n_params + block - 1) // block):
        for q in range(b * block, min(n_params, (b + 1) * block)):
            s = partial[0, q]
            for c in range(1, n_chunks):
                s += partial[c, q]
            grad[q] = s
    total = work[0, last]
    for c in range(1, n_chunks):
        total += work[c, last]
    return total


gradient_serial, gradient_parallel = jit_serial_and_parallel(_gradient_chunks)
