"""The benchmarks' problems: data sets, networks, and timing helpers."""
import os
import time

import numpy as np
import pytest

import fastbp

edges = fastbp.kernels.edge_count  # the number of weights of a network with these layer widths


def classification(sizes, n, seed=0):
    """(X, labels, one-hot Y) for a softmax network."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    labels = rng.integers(0, sizes[-1], n)
    return X, labels, np.eye(sizes[-1])[labels]


def regression(sizes, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, sizes[0])), rng.normal(scale=0.5, size=(n, sizes[-1]))


def run_pedantic(benchmark, run, setup, rounds):
    """Time `run` over `rounds` rounds, each after `setup` (untimed) resets the state."""
    return benchmark.pedantic(run, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)


def rounds_filling(run, seconds, least):
    """Rounds of `run` that fill about `seconds` (at least `least`), from three timed calls.

    The machines are shared: a median over rounds that take a few milliseconds in all is one burst
    of someone else's work away from a wrong figure; spread over half a second, it holds.
    """
    t = time.perf_counter()
    for _ in range(3):
        run()
    each = (time.perf_counter() - t) / 3
    return max(least, min(5000, int(seconds / max(each, 1e-9))))


def softmax_net(sizes, dtype=np.float64):
    return fastbp.MLP(sizes, hidden="sigmoid", output="softmax", loss="cross_entropy", dtype=dtype, seed=0)


def cores():
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def jax_on(threads):
    """Skip a JAX cell unless this process may run on exactly `threads` cores.

    JAX sizes its thread pool to those cores once, when it starts, and no setting narrows it
    afterwards (XLA_FLAGS intra_op_parallelism_threads=1 left it at 1.8 cores of CPU time per
    second of a 1-thread epoch on 2 cores). ``python -m bench suites`` runs the JAX cells of a thread
    count the machine has more cores than in a second process pinned to that many cores.
    """
    if cores() != threads:
        pytest.skip(f"a {threads}-thread JAX cell runs in a process pinned to {threads} core(s) "
                    f"(this one may use {cores()}): python -m bench suites runs one")
