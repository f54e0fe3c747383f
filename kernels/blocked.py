"""Many rows at once as matrices: BLAS products for the layers, compiled loops for the rest.

Per-sample loops run matrix-vector products, streaming every weight once per sample; with
many rows, matrix-matrix products (kernels.blas.gemm) reuse each weight across rows.

    A_0 = X[rows];  A_{l+1} = f_l(A_l W_l^T + b_l)                      (m, sizes[l+1])
    D_L = output delta per row;  D_l = (D_{l+1} W_l) * f'(A_l)
    dW_l = D_{l+1}^T A_l;  db_l = sum over rows of D_{l+1}

Two parallel loops per OUTER rows: the first takes fixed blocks of rows through every layer,
forward and back (rows are independent until the gradient sums them); the second takes
fixed tiles of every dW_l, each one BLAS call over all rows. A part of MIN_BLOCK to SPLIT_ROWS - 1
rows first takes its first layer's product in two halves of the inner dimension, a loop of
its own. Blocks, tiles and halves follow from the shapes alone, and every output element
comes from the same calls whatever runs them, so the bits do not depend on how many threads
there are (each BLAS call runs on one thread). Rows that are consecutive are read from X in
place; others are gathered, a block at a time (a half's columns, where the first layer is cut).
A batch of more than OUTER rows is taken OUTER rows at a time, the gradient accumulated.

The driver, _matrix_rows, only cuts the rows into parts, blocks, columns and tiles; the work on
each is a part (kernels._jit.jit_part: _halves, _block, _columns, _top, _delta_columns,
_worker_tiles), compiled once per dtype and called by name from the serial and the parallel build,
the forward pass and the gradient, and the minibatch epochs that call the driver. Its only parallel
loop is the task runner's (_tasks), itself a part: Numba's parallel lowering, the costliest step of
a parallel build, is then paid once per dtype, not once per loop of every parallel kernel.
"""
import numpy as np
from numba import prange

from ._jit import jit_inline, jit_part, jit_serial_and_parallel, one_thread, thread_count
from .activations import CROSS_ENTROPY, FALSE, SOFTMAX, TRUE, activate, activate_with_loss, derivative, output_delta
from .blas import gemm
from .live import mask_rows
from .vmath import exp

# A part of fewer than MIN_BLOCK rows runs as one block, its products cut by columns for the threads;
# from MIN_BLOCK rows on, as ceil(m / MIN_BLOCK) blocks of rows, but at least 2. Two half blocks pack
# the weights twice where one block cut in two packs its rows twice, and the parts' products are as
# wide as the layer: measured on 2 cores (Intel Xeon, MKL, 784-128-10), epochs of 128-row batches ran
# 1-15% faster (the forward products of a float32 epoch alone, 1 thread: 5.47 against 5.76-5.87 ms).
MIN_BLOCK = 128
# Row blocks of a part at most; with MIN_BLOCK this fixes each block's rows from m alone. Each block
# packs the layer's weights for its own product, so fewer, taller blocks pay less for packing:
# measured on 2 cores (Intel Xeon, 784-128-10), 4 against 8 made forward passes of 1,000 rows 10%
# (float32) and 8% (float64) faster and left gradients of 256-4,096 rows the same within noise.
MAX_BLOCKS = 4
# Rows of dW per tile at most: TILE_ROWS for sums over at least LONG_SUM rows, half that over fewer.
# Every tile packs its share of A_l for the product, once per TILE_ROWS rows of dW: measured on
# 2 cores (Intel Xeon, MKL), 128 against 64 made 4,096-row gradients 2-13% faster and 1-thread
# minibatch epochs of 128 rows 8-11% faster (2 threads: -4% to +7%), but 2-thread epochs of 32 rows
# 31% slower: hence 64 below LONG_SUM.
TILE_ROWS = 128
LONG_SUM = 128
TILE_COLS = 512  # columns of dW per tile at most
# A part of MIN_BLOCK to SPLIT_ROWS - 1 rows takes its first layer's product as two halves of the
# inner dimension (each over every row, the second into D_1, which waits unused until the backward
# pass) before its blocks of rows add them: each operand is packed once, as by one whole product,
# where two blocks of rows pack the weights twice. At least SPLIT_MIN_INPUTS inputs: each half is
# cut at a multiple of 16 elements. Measured in one process against whole blocks (784-128-10,
# 128-row batches, Intel Xeon, MKL): float32 epochs 0.3-2.0% faster on 1 thread, 1.4% on 2,
# float64 the same.
SPLIT_ROWS = 256
SPLIT_MIN_INPUTS = 64
# A layer of at most NARROW outputs takes its forward product transposed, Z^T = W A^T, into the
# rows' D_{l+1} (unused until the backward pass), then copies it over: measured per product of 10
# outputs from 128 inputs, the copy included (Intel Xeon), MKL ran 32-128 rows 1.9-2.1x faster so
# (float32; float64 1.3-1.6x), OpenBLAS 0.87-1.15x as fast.
NARROW = 16
COLUMNS = 64  # outputs per product when a part is one block of rows
GATHER_ROWS = 16  # rows gathered per parallel task when a part is one block of rows
OUTER = 4096  # rows held in the buffers at once


@jit_inline
def _tile_rows(m):
    """Rows of dW per tile at most, for a sum over m rows."""
    return TILE_ROWS if m >= LONG_SUM else TILE_ROWS // 2


@jit_inline
def _tiles(n_in, n_out, m):
    """Tiles of a (n_out, n_in) dW summed over m rows: at most _tile_rows(m) rows by TILE_COLS columns,
    both cut evenly."""
    most = _tile_rows(m)
    return ((np.int64(n_out) + most - 1) // most) * ((np.int64(n_in) + TILE_COLS - 1) // TILE_COLS)


@jit_inline
def _tile_of(sizes, t, m):
    """(layer l, rows r0..r1-1 and columns c0..c1-1 of dW_l) of the t-th tile of all the dW_l, summed over
    m rows: the last, usually smallest, layer's tiles go first, so the threads' equal shares of tiles hold
    equal work more often."""
    l = sizes.shape[0] - 2
    rest = np.int64(t)
    while rest >= _tiles(sizes[l], sizes[l + 1], m):
        rest -= _tiles(sizes[l], sizes[l + 1], m)
        l -= 1
    n_in = np.int64(sizes[l])
    n_out = np.int64(sizes[l + 1])
    n_cols = (n_in + TILE_COLS - 1) // TILE_COLS
    cols = (n_in + n_cols - 1) // n_cols
    n_row_tiles = (n_out + _tile_rows(m) - 1) // _tile_rows(m)
    rows = (n_out + n_row_tiles - 1) // n_row_tiles
    r0 = (rest // n_cols) * rows
    c0 = (rest % n_cols) * cols
    return l, r0, min(n_out, r0 + rows), c0, min(n_in, c0 + cols)


@jit_part
def _share_tiles(sizes, m, owners, loads):
    """owners[t]: the worker that runs tile t, of loads.shape[0] workers (loads: zeros, scratch).

    Over blocks of rows (m >= MIN_BLOCK), the largest tiles first, each to the least loaded worker so
    far (its product's multiply-adds): the workers then hold about equal work, where equal runs of
    tiles, as a prange over them shares them, did not (784-256-256-10, 4,096 rows, 2 threads: 483 and
    615 M multiply-adds, these 554 and 544; its gradients 3-7% faster, Intel Xeon, MKL). Over one
    block cut by columns, equal runs of tiles in order, as the deltas' columns were shared: a worker's
    dW rows are then the deltas it made, still in its cache (shared the other way, 2-thread gradients
    of 32 rows ran up to 13% slower). Which worker runs a tile changes no bits: each tile is one BLAS
    call of its own.
    """
    n_tiles = owners.shape[0]
    n_workers = loads.shape[0]
    if m < MIN_BLOCK:
        for t in range(n_tiles):
            owners[t] = (t * n_workers) // n_tiles
        return
    for t in range(n_tiles - 1, -1, -1):  # the first layer's tiles, usually the largest, last
        l, r0, r1, c0, c1 = _tile_of(sizes, t, m)
        least = 0
        for w in range(1, n_workers):
            if loads[w] < loads[least]:
                least = w
        owners[t] = least
        loads[least] += (r1 - r0) * (c1 - c0)


@jit_inline
def _gather(X, rows, start, lo, hi, work, k0, k1):
    """A_0 rows lo..hi-1 (in work) = X[rows[start + lo]], ..., X[rows[start + hi - 1]], columns k0..k1-1."""
    n0 = X.shape[1]
    for i in range(lo, hi):
        source = X[rows[start + i]]  # a row view and a slice: the copy vectorises (3x faster than 2-D indexing)
        target = work[i * n0:(i + 1) * n0]
        for k in range(k0, k1):
            target[k] = source[k]


@jit_inline
def _narrow_product(rows, n_out, n_in, A, a, params, p, work, o, scratch):
    """Z = A W^T, Z (rows, n_out) at o in work, A (rows, n_in) at a in A, W (n_out, n_in) at p in params,
    as Z^T = W A^T at scratch in work, copied over."""
    gemm(False, True, n_out, rows, n_in, 1.0, params, p, n_in, A, a, n_in, 0.0, work, scratch, rows)
    for i in range(rows):
        for j in range(n_out):
            work[o + i * n_out + j] = work[scratch + j * rows + i]


@jit_inline
def _all_finite(values, lo, hi):
    """Whether values[lo:hi] (1-D) holds finite numbers only."""
    T = type(values[0])
    big = T(np.finfo(values.dtype).max)
    bad = False
    for q in range(np.uint64(lo), np.uint64(hi)):  # unsigned: no negative-index check, so the loop vectorises
        bad |= not abs(values[q]) <= big  # NaN compares false
    return not bad


@jit_inline
def _copy_outputs(work, a, start, lo, hi, out):
    """out[start + i] = A_L row i (at a in work), for i in lo..hi-1."""
    n_top = out.shape[1]
    for i in range(lo, hi):
        row = np.uint64(a + i * n_top)
        for j in range(n_top):
            out[start + i, j] = work[row + np.uint64(j)]


@jit_inline
def _output_deltas(work, a, d, Y, rows, start, lo, hi, n_top, code, loss):
    """D_L rows lo..hi-1 (at d in work) from A_L (at a) and the targets."""
    for i in range(lo, hi):
        output_delta(work, np.uint64(a + i * n_top), np.uint64(n_top), Y, rows[start + i], code, loss,
                     work[d + i * n_top:d + (i + 1) * n_top])


@jit_inline
def _output_rows(work, o, w, lo, hi, n, Y, rows, start, code, loss):
    """A_L = f(Z_L) in place on rows lo..hi-1 (at o in work); returns their losses summed in row order.

    Softmax with cross-entropy takes every row's exponentials in one loop, which vectorises (a loop
    per row, over 10 outputs with sums beside, ran one exponential at a time); w: where the rows'
    z - max z wait meanwhile (the output deltas' rows, written only later). Values and sums come
    out as activate_with_loss gives them, in the same order; other outputs and losses use it.
    """
    T = type(work[0])
    total = T(0)
    if not (loss == CROSS_ENTROPY and code == SOFTMAX):
        for i in range(lo, hi):
            total += activate_with_loss(work, np.uint64(o + i * n), np.uint64(n), Y, rows[start + i], code, loss)
        return total
    width = np.uint64(n)  # unsigned offsets from here on: no negative-index checks, so the loops vectorise
    for i in range(np.uint64(lo), np.uint64(hi)):
        row = np.uint64(o) + i * width
        kept = np.uint64(w) + i * width
        m = work[row]
        for j in range(width):
            m = max(m, work[row + j])
        for j in range(width):
            work[kept + j] = work[row + j] - m
    for q in range(np.uint64(lo) * width, np.uint64(hi) * width):
        work[np.uint64(o) + q] = exp(work[np.uint64(w) + q])
    for i in range(np.uint64(lo), np.uint64(hi)):  # sum y (lse - z) = log(s) sum y - sum y w, s = sum e^w
        row = np.uint64(o) + i * width
        kept = np.uint64(w) + i * width
        r = rows[np.uint64(start) + i]
        c = T(0)
        y_sum = T(0)
        s = T(0)
        for j in range(width):
            c -= Y[r, j] * work[kept + j]
            y_sum += Y[r, j]
            s += work[row + j]
        inv = T(1) / s
        for j in range(width):
            work[row + j] *= inv
        total += c + np.log(s) * y_sum
    return total


@jit_inline
def _sum_losses(work, losses, n_blocks):
    """The blocks' losses added in block order."""
    total = work[losses]
    for t in range(1, n_blocks):
        total += work[losses + t]
    return total


@jit_part
def _halves(params, offsets, n1, X, rows, start, m, first, in_place, half, work, d0):
    """One half of the inner dimension of a part's first product: Z_1 = A_0[:, :cut] W_0[:, :cut]^T
    into A_1 (half 0), or A_0[:, cut:] W_0[:, cut:]^T into D_1 (half 1), over all m rows."""
    n0 = np.int64(X.shape[1])
    cut = ((n0 + 1) // 2 + 15) // 16 * 16
    k0 = 0 if half == 0 else cut
    k1 = cut if half == 0 else n0
    target = m * n0 if half == 0 else d0
    if in_place:
        gemm(False, True, m, n1, k1 - k0, 1.0, X, first * n0 + k0, n0, params, np.int64(offsets[0]) + k0,
             n0, 0.0, work, target, n1)
    else:
        _gather(X, rows, start, 0, m, work, k0, k1)
        gemm(False, True, m, n1, k1 - k0, 1.0, work, k0, n0, params, np.int64(offsets[0]) + k0, n0, 0.0,
             work, target, n1)


@jit_part
def _block(params, sizes, offsets, acts, loss, X, Y, rows, out, work, start, m, first, in_place, split, t, per_block,
           check, backward):
    """Block t of a part of m rows (per_block rows each) through every layer: its products, activations and
    loss (into the blocks' losses), its outputs when out has rows, and when backward its deltas D_L ... D_1."""
    n_layers = sizes.shape[0] - 1
    n0 = np.int64(sizes[0])
    n_top = np.int64(sizes[n_layers])
    d0, losses = _part_layout(sizes, m)
    lo = t * per_block
    hi = min(m, lo + per_block)
    work[losses + t] = 0
    if not (in_place or split):
        _gather(X, rows, start, lo, hi, work, 0, n0)
    a = np.int64(0)  # A_l starts at a, A_{l+1} at o
    spare = d0  # D_{l+1}, unused until the backward pass
    for l in range(n_layers):
        n_in = np.int64(sizes[l])
        n_out = np.int64(sizes[l + 1])
        p = np.int64(offsets[l])
        o = a + m * n_in
        if l == 0 and split:  # the second half's sums
            for q in range(np.uint64(lo * n_out), np.uint64(hi * n_out)):
                work[np.uint64(o) + q] += work[np.uint64(d0) + q]
        elif n_out <= NARROW and l == 0 and in_place:
            _narrow_product(hi - lo, n_out, n_in, X, (first + lo) * n0, params, p, work, o + lo * n_out,
                            spare + lo * n_out)
        elif n_out <= NARROW:
            _narrow_product(hi - lo, n_out, n_in, work, a + lo * n_in, params, p, work, o + lo * n_out,
                            spare + lo * n_out)
        elif l == 0 and in_place:
            gemm(False, True, hi - lo, n_out, n_in, 1.0, X, (first + lo) * n0, n0, params, p, n_in,
                 0.0, work, o + lo * n_out, n_out)
        else:
            gemm(False, True, hi - lo, n_out, n_in, 1.0, work, a + lo * n_in, n_in, params, p, n_in,
                 0.0, work, o + lo * n_out, n_out)
        bias = p + n_out * n_in
        code = acts[l]
        for i in range(lo, hi):
            row = np.uint64(o + i * n_out)  # unsigned: no negative-index check, so loops vectorise
            for j in range(np.uint64(n_out)):
                work[row + j] += params[np.uint64(bias) + j]
            if l == 0 and check and not _all_finite(work, row, row + np.uint64(n_out)):
                work[losses + t] = np.nan
        if l < n_layers - 1:  # the block's rows as one run: one long vector loop, not one per row
            activate(work, np.uint64(o + lo * n_out), np.uint64((hi - lo) * n_out), code)
        else:
            work[losses + t] += _output_rows(work, o, losses - m * n_top, lo, hi, n_out, Y, rows, start,
                                             code, loss)
        a = o
        spare += m * n_out
    if out.shape[0] > 0:
        _copy_outputs(work, a, start, lo, hi, out)
    if not backward:
        return
    d = losses - m * n_top  # D_L
    _output_deltas(work, a, d, Y, rows, start, lo, hi, n_top, acts[n_layers - 1], loss)
    for l in range(n_layers - 1, 0, -1):  # D_l = (D_{l+1} W_l) * f'(A_l), this block's rows
        n_in = np.int64(sizes[l])
        n_out = np.int64(sizes[l + 1])
        a -= m * n_in
        e = d - m * n_in
        gemm(False, False, hi - lo, n_in, n_out, 1.0, work, d + lo * n_out, n_out, params,
             np.int64(offsets[l]), n_in, 0.0, work, e + lo * n_in, n_in)
        code = acts[l - 1]
        for q in range(np.uint64(lo * n_in), np.uint64(hi * n_in)):
            work[np.uint64(e) + q] *= derivative(work[np.uint64(a) + q], code)
        d = e


@jit_part
def _columns(params, sizes, offsets, acts, X, work, m, first, in_place, l, a, spare, t, check, losses):
    """Outputs COLUMNS * t ... of layer l (A_l at a, A_{l+1} after it) over a part's m rows as one block:
    their product and bias, and their activation when the layer is hidden."""
    n_layers = sizes.shape[0] - 1
    n0 = np.int64(sizes[0])
    n_in = np.int64(sizes[l])
    n_out = np.int64(sizes[l + 1])
    p = np.int64(offsets[l])
    o = a + m * n_in
    bias = p + n_out * n_in
    code = acts[l]
    hidden = l < n_layers - 1
    c0 = t * COLUMNS
    c1 = min(n_out, c0 + COLUMNS)
    if n_out <= NARROW and l == 0 and in_place:  # (then one part: c0 = 0, c1 = n_out)
        _narrow_product(m, n_out, n_in, X, first * n0, params, p, work, o, spare)
    elif n_out <= NARROW:
        _narrow_product(m, n_out, n_in, work, a, params, p, work, o, spare)
    elif l == 0 and in_place:
        gemm(False, True, m, c1 - c0, n_in, 1.0, X, first * n0, n0, params, p + c0 * n_in, n_in,
             0.0, work, o + c0, n_out)
    else:
        gemm(False, True, m, c1 - c0, n_in, 1.0, work, a, n_in, params, p + c0 * n_in, n_in,
             0.0, work, o + c0, n_out)
    for i in range(m):
        row = np.uint64(o + i * n_out)
        for j in range(np.uint64(c0), np.uint64(c1)):
            work[row + j] += params[np.uint64(bias) + j]
        if l == 0 and check and not _all_finite(work, row + np.uint64(c0), row + np.uint64(c1)):
            work[losses] = np.nan  # (every part that writes it writes NaN)
        if hidden:
            activate(work, row + np.uint64(c0), np.uint64(c1 - c0), code)


@jit_part
def _top(sizes, acts, loss, Y, rows, out, work, start, m, a, backward):
    """The output layer of a part of m rows as one block (Z_L at a): A_L and the loss, the outputs when out
    has rows, and D_L when backward."""
    n_top = np.int64(sizes[sizes.shape[0] - 1])
    code = acts[sizes.shape[0] - 2]
    zero = np.int64(0)
    _, losses = _part_layout(sizes, m)
    work[losses] += _output_rows(work, a, losses - m * n_top, zero, m, n_top, Y, rows, start, code, loss)
    if out.shape[0] > 0:
        _copy_outputs(work, a, start, zero, m, out)
    if backward:
        _output_deltas(work, a, losses - m * n_top, Y, rows, start, zero, m, n_top, code, loss)


@jit_part
def _delta_columns(params, sizes, offsets, acts, work, m, l, a, d, t):
    """Columns COLUMNS * t ... of D_l = (D_{l+1} W_l) * f'(A_l) over a part's m rows as one block
    (A_l at a, D_{l+1} at d, D_l just before it)."""
    n_in = np.int64(sizes[l])
    n_out = np.int64(sizes[l + 1])
    e = d - m * n_in
    code = acts[l - 1]
    c0 = t * COLUMNS
    c1 = min(n_in, c0 + COLUMNS)
    gemm(False, False, m, c1 - c0, n_out, 1.0, work, d, n_out, params, np.int64(offsets[l]) + c0,
         n_in, 0.0, work, e + c0, n_in)
    for i in range(m):
        target = np.uint64(e + i * n_in)
        source = np.uint64(a + i * n_in)
        for k in range(np.uint64(c0), np.uint64(c1)):
            work[target + k] *= derivative(work[source + k], code)


@jit_part
def _worker_tiles(sizes, offsets, live, X, grad, work, start, m, n_rows, first, in_place, owners, w, scale, beta,
                  update):
    """The tiles of dW_l = D_{l+1}^T A_l (and of db_l) that worker w runs (owners), over a part's m rows:
    grad's tile = scale times the product + beta grad's tile (the biases: summed, see _matrix_rows)."""
    T = type(grad[0])
    n0 = np.int64(sizes[0])
    d0, _ = _part_layout(sizes, m)
    for t in range(owners.shape[0]):
        if owners[t] != w:
            continue
        l, r0, r1, c0, c1 = _tile_of(sizes, t, m)
        a = 0
        d = d0
        for k in range(l):
            a += m * np.int64(sizes[k])
            d += m * np.int64(sizes[k + 1])
        n_in = np.int64(sizes[l])
        n_out = np.int64(sizes[l + 1])
        p = np.int64(offsets[l])
        if l == 0 and in_place:
            gemm(True, False, r1 - r0, c1 - c0, m, scale, work, d + r0, n_out, X, first * n0 + c0, n0,
                 beta, grad, p + r0 * n_in + c0, n_in)
        else:
            gemm(True, False, r1 - r0, c1 - c0, m, scale, work, d + r0, n_out, work, a + c0, n_in,
                 beta, grad, p + r0 * n_in + c0, n_in)
        if live is not None and start + m == n_rows:  # the whole sum is in: masked weights get no gradient
            units = np.uint64(0)  # the units below layer l's, where its live lists start
            for k in range(1, l + 1):
                units += sizes[k]
            mask_rows(grad, p, n_in, r0, r1, c0, c1, live, units)
        if c0 == 0 and update:
            bias = p + n_out * n_in
            # each bias's sum in row order, a row at a time (a vector loop): summed one bias at a time down
            # its column, the sums took 2.5% of 1-thread epochs of 128-row batches (784-128-10, float32)
            sums = np.zeros(r1 - r0, T)
            for i in range(np.uint64(m)):
                row = np.uint64(d + r0) + i * np.uint64(n_out)
                for j in range(np.uint64(r1 - r0)):
                    sums[j] += work[row + j]
            for j in range(r1 - r0):
                grad[bias + r0 + j] += scale * sums[j]
        elif c0 == 0:
            bias = p + n_out * n_in
            if start == 0:
                for j in range(r0, r1):
                    grad[bias + j] = 0
            for i in range(m):
                row = np.uint64(d + i * n_out)
                for j in range(np.uint64(r0), np.uint64(r1)):
                    grad[np.uint64(bias) + j] += work[row + j]


@jit_inline
def _part_layout(sizes, m):
    """(d0, losses): where a part of m rows keeps D_1 ... D_L (after A_0 ... A_L) and its blocks' losses."""
    n_a = np.int64(0)
    for l in range(sizes.shape[0]):
        n_a += np.int64(sizes[l])
    d0 = m * n_a
    return d0, d0 + m * (n_a - np.int64(sizes[0]))


#: what a call of the task runner does (_tasks)
HALVES, BLOCKS, GATHERS, COLUMN_TASKS, DELTA_TASKS, TILE_TASKS = 0, 1, 2, 3, 4, 5


def _tasks(kind, n, job, at, l, a, b, owners, beta):
    """Tasks 0 ... n-1 of one kind, each one call of a part (in the parallel build, on the threads):
    the two halves of a first product (HALVES), the blocks of rows (BLOCKS), the gathers of a part's rows
    when it is one block (GATHERS), layer l's columns (COLUMN_TASKS: A_l at a, spare room at b) and its
    deltas' columns (DELTA_TASKS: A_l at a, D_{l+1} at b), the workers' tiles of the gradient (TILE_TASKS,
    owners and beta as _worker_tiles takes them). job: the call's arrays and settings (_matrix_rows);
    at: the part's rows. The only parallel loop of the matrix kernels, so it is compiled once per dtype.
    """
    params, sizes, offsets, acts, live, loss, X, Y, rows, out, grad, work, check, backward, scale, update = job
    start, m, first, in_place, split, per_block = at
    n0 = np.int64(sizes[0])
    d0, losses = _part_layout(sizes, m)
    for i in prange(n):
        t = np.int64(i)
        if kind == HALVES:
            _halves(params, offsets, np.int64(sizes[1]), X, rows, start, m, first, in_place, t, work, d0)
        elif kind == BLOCKS:
            _block(params, sizes, offsets, acts, loss, X, Y, rows, out, work, start, m, first, in_place, split, t,
                   per_block, check, backward)
        elif kind == GATHERS:
            _gather(X, rows, start, t * GATHER_ROWS, min(m, (t + 1) * GATHER_ROWS), work, 0, n0)
        elif kind == COLUMN_TASKS:
            _columns(params, sizes, offsets, acts, X, work, m, first, in_place, l, a, b, t, check, losses)
        elif kind == DELTA_TASKS:
            _delta_columns(params, sizes, offsets, acts, work, m, l, a, b, t)
        else:
            _worker_tiles(sizes, offsets, live, X, grad, work, start, m, rows.shape[0], first, in_place, owners, t,
                          scale, beta, update)


tasks_serial, tasks_parallel = jit_part(_tasks), jit_part(_tasks, parallel=True)


def _matrix_rows(params, sizes, offsets, acts, live, loss, X, Y, rows, out, grad, work, scale, check, update, decay):
    """Forward pass over rows as matrices, and the summed gradient when grad is given; returns the summed loss.

    out: (m, sizes[-1]) receives the outputs, or (0, sizes[-1]) for none. grad: (P,) overwritten
    with scale times the sum over rows of dC/dparams, or None for a forward pass only (scale: a
    scalar of params' dtype; 1 / m gives the mean). A forward-only build (grad None, settled before
    typing) skips the backward tasks; the task runner it calls is the gradient's, compiled once for
    both. loss NO_LOSS: no loss, Y not read. live: a sparse network's
    live-edge lists (kernels.live; the products run dense over its zeros, its masked gradients are
    then zeroed), or None. check: whether to look for NaN and inf in X, through the first layer's
    products: a NaN or inf in a row of X makes every product of that row NaN or inf (inf times 0 is
    NaN), so a pass over the products, sizes[0] / sizes[1] times smaller than X and in cache, sees
    it (a pass of its own over X cost 11% of a forward pass of 1,000 x 784 rows). The returned sum
    is then NaN; so it is when a product overflows, which the caller tells apart by checking X itself.
    update: grad is params itself, and the products step it in place (plain SGD, a dense network,
    at most OUTER rows): weights become decay W + scale dW, biases b + scale db (decay = 1 - lr l2,
    scale = -lr / m). The weights are no longer read once the backward pass is done, so no gradient
    buffer and no pass of its own over the parameters are needed. decay is read only then.
    work: (layout.block_work_size(sizes, m),).

    Its loops over tasks are calls of the task runner (_tasks), serial or parallel as the build.
    """
    T = type(params[0])
    n_layers = sizes.shape[0] - 1
    n_rows = rows.shape[0]
    n0 = np.int64(sizes[0])
    backward = FALSE if grad is None else TRUE  # a run-time value: every build calls the same layer kernels
    job = (params, sizes, offsets, acts, live, loss, X, Y, rows, out, params if grad is None else grad, work, check,
           backward, scale, update)  # (params stands in for no gradient: one type, so one compiled runner)
    zero = np.int64(0)
    no_owners = np.empty(0, np.int64)
    total = T(0)
    for start in range(0, n_rows, OUTER):
        m = min(n_rows, start + OUTER) - start
        first = rows[start]
        in_place = TRUE  # consecutive rows: A_0 is X itself (a run-time value, as backward)
        for i in range(m):
            in_place = in_place and rows[start + i] == first + i
        d0, losses = _part_layout(sizes, m)
        n_blocks = min(MAX_BLOCKS, (m + MIN_BLOCK - 1) // MIN_BLOCK)
        if m >= MIN_BLOCK:
            n_blocks = max(n_blocks, 2)
        per_block = (m + n_blocks - 1) // n_blocks
        split = n_blocks > 1 and m < SPLIT_ROWS and n0 >= SPLIT_MIN_INPUTS
        at = (np.int64(start), m, first, in_place, split, per_block)
        if split:  # Z_1 = A_0[:, :cut] W_0[:, :cut]^T into A_1, + A_0[:, cut:] W_0[:, cut:]^T into D_1
            _tasks(HALVES, 2, job, at, zero, zero, zero, no_owners, T(0))
        if n_blocks > 1:  # blocks of rows through every layer, forward and back
            _tasks(BLOCKS, n_blocks, job, at, zero, zero, zero, no_owners, T(0))
        else:  # one block of rows: each layer's product cut by columns instead, so small batches use the threads
            work[losses] = 0
            if not in_place:
                _tasks(GATHERS, (m + GATHER_ROWS - 1) // GATHER_ROWS, job, at, zero, zero, zero, no_owners, T(0))
            a = zero
            spare = d0
            for l in range(n_layers):
                n_out = np.int64(sizes[l + 1])
                _tasks(COLUMN_TASKS, (n_out + COLUMNS - 1) // COLUMNS, job, at, np.int64(l), a, spare, no_owners, T(0))
                a += m * np.int64(sizes[l])
                spare += m * n_out
            _top(sizes, acts, loss, Y, rows, out, work, start, m, a, backward)
            if grad is not None:
                d = losses - m * np.int64(sizes[n_layers])
                for l in range(n_layers - 1, 0, -1):
                    n_in = np.int64(sizes[l])
                    a -= m * n_in
                    _tasks(DELTA_TASKS, (n_in + COLUMNS - 1) // COLUMNS, job, at, np.int64(l), a, d, no_owners, T(0))
                    d -= m * n_in

        total += _sum_losses(work, losses, n_blocks)
        if grad is None:
            continue
        n_tiles = 0
        for l in range(n_layers):
            n_tiles += _tiles(sizes[l], sizes[l + 1], m)
        beta = decay if update else T(0) if start == 0 else T(1)
        n_workers = min(thread_count(), n_tiles)
        owners = np.empty(n_tiles, np.int64)
        _share_tiles(sizes, m, owners, np.zeros(n_workers, np.int64))
        # dW_l = D_{l+1}^T A_l and db_l, a tile of W_l's rows and columns each
        _tasks(TILE_TASKS, n_workers, job, at, zero, zero, zero, owners, beta)
    if grad is not None and not update and scale != T(1):  # the biases were summed unscaled over every part
        for l in range(n_layers):
            bias = np.int64(offsets[l]) + np.int64(sizes[l]) * np.int64(sizes[l + 1])
            for j in range(bias, np.int64(offsets[l + 1])):
                grad[j] *= scale
    return total


matrix_serial, matrix_parallel = jit_serial_and_parallel(
    _matrix_rows, reassociate=False, calls=((thread_count, one_thread, thread_count),
                                            (_tasks, tasks_serial, tasks_parallel)), own_loops=False)
