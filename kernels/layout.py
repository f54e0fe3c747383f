"""Layout arithmetic in one place: where each layer sits in the flat buffer, and how much
work space each kind of kernel needs. Plain Python, called once per model or per call."""
import numpy as np

from .blocked import MAX_BLOCKS, OUTER
from .gradient import MAX_CHUNKS, MAX_PARTIAL, MIN_CHUNK


def edge_count(sizes):
    """Weights of a dense network of these layer widths: the sum of n_in * n_out."""
    return sum(int(n_in) * int(n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def param_count(sizes):
    """P, the weights and biases of a network of these layer widths."""
    return int(layer_offsets(sizes)[-1])


def layer_offsets(sizes):
    """(L+1,) uint64: W_l starts at offsets[l] (its bias b_l right after it); offsets[L] = P."""
    offsets = [0]
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        offsets.append(offsets[-1] + n_in * n_out + n_out)
    return np.array(offsets, dtype=np.uint64)


def sample_work_size(sizes, n_live=0):
    """Work elements of the per-sample kernels: every layer's output, then two delta buffers; for a
    sparse network of n_live live edges, then three packed runs of them (kernels.live.packed_buffers)."""
    return sum(sizes) + 2 * max(sizes) + 3 * n_live


def block_work_size(sizes, m):
    """Work elements of the matrix kernel for m rows (at most OUTER at once): every A_l and D_l,
    and a loss per block."""
    m = min(m, OUTER)
    return m * (sum(sizes) + sum(sizes[1:])) + MAX_BLOCKS


def chunk_count(n_rows, n_params):
    """Chunks of the per-sample batch gradient for n_rows: from the work alone, never from the thread count."""
    by_rows = -(-n_rows // MIN_CHUNK)
    by_memory = max(1, MAX_PARTIAL // max(n_params, 1))
    return max(1, min(MAX_CHUNKS, by_rows, by_memory))
