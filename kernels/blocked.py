"""Batch gradients as matrices: BLAS products for the layers, compiled loops for the rest.

Per-sample loops run matrix-vector products; with many samples, matrix-matrix products
(np.dot -> BLAS dgemm/sgemm) reuse each weight across rows. Every product is cut into
fixed blocks of rows (of the batch: up to MAX_BLOCKS blocks of at least MIN_BLOCK rows; or
BLOCK rows of W) run under prange, one BLAS thread each: every output element comes from
one BLAS call over the whole inner dimension, so the bits do not depend on how many
threads run the blocks.

    A_0 = X[rows];  A_{l+1} = f_l(A_l W_l^T + b_l)                      (m, sizes[l+1])
    D_L = output delta per row;  dW_l = D_l^T A_l;  db_l = sum_rows D_l
    D_{l-1} = (D_l W_l) * f'(A_l)
A batch of more than OUTER rows is taken OUTER rows at a time, each part's gradient
added to the total in order, so the buffers stay bounded.
"""
import numpy as np
from numba import prange

from ._jit import jit_serial_and_parallel
from .activations import activate, activate_with_loss, derivative, output_delta

MIN_BLOCK = 64  # rows per BLAS call at least
MAX_BLOCKS = 16  # row blocks of a part; with MIN_BLOCK this fixes each block's rows from m alone
BLOCK = 64  # rows of W per BLAS call in dW = D^T A
OUTER = 4096  # rows held in the buffers at once


def _blocked_gradient(params, sizes, offsets, acts, loss, X, Y, rows, grad, spare, work):
    """grad = sum over rows of dC/dparams (overwritten); returns the summed loss.

    grad, spare: (P,), spare used when len(rows) > OUTER; work: (layout.block_work_size(sizes, len(rows)),).
    """
    all_rows = rows
    total_grad = grad
    T = type(params[0])
    total = T(0)
    n_rows = all_rows.shape[0]
    for start in range(0, n_rows, OUTER):
        rows = all_rows[start:min(n_rows, start + OUTER)]
        grad = total_grad if start == 0 else spare
        m = rows.shape[0]
        n_layers = sizes.shape[0] - 1
        n_a = 0
        width = 0
        for l in range(n_layers + 1):
            n_a += np.int64(sizes[l])
            if l > 0:
                width = max(width, np.int64(sizes[l]))
        n_blocks = min(MAX_BLOCKS, (m + MIN_BLOCK - 1) // MIN_BLOCK)
        rows_per_block = (m + n_blocks - 1) // n_blocks
        d = m * n_a  # D (m, n_out), then D' (m, n_in), then D^T (n_out, m), then the block losses
        e = d + m * width
        dt = e + m * width
        losses = dt + m * width

        n0 = np.int64(sizes[0])
        for t in prange(n_blocks):
            work[losses + t] = 0
            for i in range(t * rows_per_block, min(m, (t + 1) * rows_per_block)):
                for k in range(n0):
                    work[i * n0 + k] = X[rows[i], k]
        a = 0  # where A_l starts in work
        for l in range(n_layers):
            n_in = np.int64(sizes[l])
            n_out = np.int64(sizes[l + 1])
            p = np.int64(offsets[l])
            o = a + m * n_in
            W = params[p:p + n_out * n_in].reshape((n_out, n_in))
            bias = p + n_out * n_in
            for t in prange(n_blocks):
                lo = t * rows_per_block
                hi = min(m, lo + rows_per_block)
                np.dot(work[a + lo * n_in:a + hi * n_in].reshape((hi - lo, n_in)), W.T,
                       work[o + lo * n_out:o + hi * n_out].reshape((hi - lo, n_out)))
                for i in range(lo, hi):
                    row = o + i * n_out
                    for j in range(n_out):
                        work[row + j] += params[bias + j]
                    if l < n_layers - 1:
                        activate(work, np.uint64(row), np.uint64(n_out), acts[l])
                    else:
                        work[losses + t] += activate_with_loss(work, np.uint64(row), np.uint64(n_out), Y, rows[i],
                                                               acts[l], loss)
            a = o

        n_top = np.int64(sizes[n_layers])
        for t in prange(n_blocks):
            for i in range(t * rows_per_block, min(m, (t + 1) * rows_per_block)):
                output_delta(work, np.uint64(a + i * n_top), np.uint64(n_top), Y, rows[i], acts[n_layers - 1],
                             loss, work[d + i * n_top:d + (i + 1) * n_top])
        for l in range(n_layers - 1, -1, -1):
            n_in = np.int64(sizes[l])
            n_out = np.int64(sizes[l + 1])
            p = np.int64(offsets[l])
            a -= m * n_in
            bias = p + n_out * n_in
            for t in prange(n_blocks):  # D^T, so that rows of dW = D^T A come from contiguous rows
                for i in range(t * rows_per_block, min(m, (t + 1) * rows_per_block)):
                    for j in range(n_out):
                        work[dt + j * m + i] = work[d + i * n_out + j]
            A_in = work[a:a + m * n_in].reshape((m, n_in))
            for t in prange((n_out + BLOCK - 1) // BLOCK):  # dW_l, db_l by blocks of W's rows
                lo = t * BLOCK
                hi = min(n_out, lo + BLOCK)
                np.dot(work[dt + lo * m:dt + hi * m].reshape((hi - lo, m)), A_in,
                       grad[p + lo * n_in:p + hi * n_in].reshape((hi - lo, n_in)))
                for j in range(lo, hi):
                    s = T(0)
                    for i in range(m):
                        s += work[dt + j * m + i]
                    grad[bias + j] = s
            if l == 0:
                break
            W = params[p:p + n_out * n_in].reshape((n_out, n_in))
            for t in prange(n_blocks):  # D_{l-1} = (D_l W_l) * f'(A_l), by blocks of rows
                lo = t * rows_per_block
                hi = min(m, lo + rows_per_block)
                np.dot(work[d + lo * n_out:d + hi * n_out].reshape((hi - lo, n_out)), W,
                       work[e + lo * n_in:e + hi * n_in].reshape((hi - lo, n_in)))
                for i in range(lo, hi):
                    for k in range(n_in):
                        work[e + i * n_in + k] *= derivative(work[a + i * n_in + k], acts[l - 1])
            d, e = e, d
        for t in range(n_blocks):
            total += work[losses + t]
        if start > 0:
            for q in prange(total_grad.shape[0]):
                total_grad[q] += spare[q]
    return total


# Written inline, the row loops here are vectorised differently in the two builds: with
# re-association they gave bits that differed by an ulp, so it is off for this kernel.
blocked_serial, blocked_parallel = jit_serial_and_parallel(_blocked_gradient, reassociate=False)
