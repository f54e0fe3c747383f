"""Sparse connectivity: which edges of a layered network are live, checked, drawn, pruned and indexed.

A mask per layer, shaped like its weights (n_out, n_in), True where the edge is live. The model
keeps its dense parameter layout (masked weights are exact zeros); the kernels get each unit's
live inputs as index lists (kernels.live), built here once per change of the masks.
"""
import numbers

import numpy as np

from . import checks, kernels


def check_connectivity(connectivity, sizes, rng):
    """The masks `connectivity` describes for `sizes`, or None when every edge is live.

    connectivity: None (fully connected), a density in (0, 1] (random masks, :func:`random_masks`),
    or a list of boolean arrays, one per layer, shaped (sizes[l + 1], sizes[l]).
    """
    if connectivity is None:
        return None
    shapes = [(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    if isinstance(connectivity, (list, tuple)):
        if len(connectivity) != len(shapes):
            raise ValueError(f"connectivity as masks must hold {len(shapes)} arrays (one per layer), "
                             f"got {len(connectivity)}")
        masks = []
        for l, (mask, shape) in enumerate(zip(connectivity, shapes)):
            mask = np.asarray(mask)
            if mask.dtype != np.bool_:
                raise TypeError(f"connectivity[{l}] must be a boolean array, got dtype {mask.dtype}")
            if mask.shape != shape:
                raise ValueError(f"connectivity[{l}] must have layer {l}'s weight shape {shape} "
                                 f"(n_out, n_in), got {mask.shape}")
            masks.append(mask.copy())
    elif isinstance(connectivity, (bool, np.bool_)) or not isinstance(connectivity, numbers.Real):
        raise TypeError(f"connectivity must be None, a density in (0, 1] or a list of boolean masks (one per "
                        f"layer, shaped (n_out, n_in)), got {_described(connectivity)}")
    else:
        density = checks.check_float(connectivity, "connectivity", low=0.0, high=1.0, low_open=True)
        masks = random_masks(shapes, density, rng)
    if all(mask.all() for mask in masks):
        return None
    return masks


def _described(value):
    """A short description of a value for an error message: an array by its shape, never its contents."""
    if isinstance(value, np.ndarray):
        return f"a {value.ndim}-D array of shape {value.shape}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def random_masks(shapes, density, rng):
    """One mask per (n_out, n_in) shape, each edge live with probability `density`.

    A unit left with no live input gets one, drawn uniformly, so every unit still sees its layer below.
    """
    masks = []
    for n_out, n_in in shapes:
        mask = rng.random((n_out, n_in)) < density
        empty = np.flatnonzero(~mask.any(axis=1))
        mask[empty, rng.integers(0, n_in, empty.shape[0])] = True
        masks.append(mask)
    return masks


def live_lists(masks):
    """(starts (U + 1,) uint64, inputs (live edges,) uint32): every unit's live inputs, ascending.

    Units are counted over layers 1..L (kernels.live). None when masks is None (fully connected).
    """
    if masks is None:
        return None
    counts = np.concatenate([mask.sum(axis=1) for mask in masks])
    starts = np.zeros(counts.shape[0] + 1, dtype=np.uint64)
    np.cumsum(counts, out=starts[1:])
    inputs = np.concatenate([np.nonzero(mask)[1] for mask in masks]).astype(np.uint32)
    return starts, inputs


def keep_flags(masks, offsets, n_params):
    """(P,) bool laid out like params: False at masked weights, True at live weights and every bias."""
    keep = np.ones(n_params, dtype=bool)
    for l, mask in enumerate(masks):
        p = int(offsets[l])
        keep[p:p + mask.size] = mask.ravel()
    return keep


def pruned(weights, masks, fraction):
    """New masks without the round(fraction * live) live weights of smallest magnitude.

    Over every layer at once; ties: the earlier layer and position go first.
    """
    live = np.concatenate([np.abs(W[mask]) for W, mask in zip(weights, masks)])
    n_remove = int(round(fraction * live.shape[0]))
    if n_remove == 0:
        return [mask.copy() for mask in masks]
    drop = np.zeros(live.shape[0], dtype=bool)
    drop[np.argsort(live, kind="stable")[:n_remove]] = True
    result, start = [], 0
    for mask in masks:
        mask = mask.copy()
        n = int(mask.sum())
        rows, cols = np.nonzero(mask)
        mask[rows[drop[start:start + n]], cols[drop[start:start + n]]] = False
        result.append(mask)
        start += n
    return result


def pack(masks):
    """Every layer's mask flattened and concatenated, (edges of the dense network,) bool; empty when None."""
    if masks is None:
        return np.zeros(0, dtype=bool)
    return np.concatenate([mask.ravel() for mask in masks])


def unpack(flat, sizes):
    """The masks :func:`pack` wrote for `sizes`, or None for an empty array; ValueError when they cannot be."""
    if flat.size == 0:
        return None
    n_edges = kernels.edge_count(sizes)
    if flat.dtype != np.bool_ or flat.shape != (n_edges,):
        raise ValueError(f"masks must be {n_edges} booleans (every edge of sizes {list(sizes)}), got "
                         f"{flat.size} of dtype {flat.dtype}")
    masks, start = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        masks.append(flat[start:start + n_in * n_out].reshape(n_out, n_in).copy())
        start += n_in * n_out
    return masks
