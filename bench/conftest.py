"""Benchmark fixtures: problems, the machine record, and quick/full sizes.

Run: python -m pytest bench (timed) or python -m pytest bench --benchmark-disable (each once,
as CI does). `fastbp bench` runs them and writes RESULTS.md from the saved JSON.
"""
import os

import numba
import numpy as np
import pytest

import fastbp
from fastbp.machine import machine_info


def pytest_addoption(parser):
    parser.addoption("--fastbp-quick", action="store_true", help="smaller benchmark problems")


@pytest.fixture(scope="session")
def quick(request):
    return request.config.getoption("--fastbp-quick") or bool(os.environ.get("CI"))


@pytest.fixture(scope="session")
def machine():
    return machine_info()


@pytest.fixture
def record(benchmark, machine):
    """record(**info): put the machine, versions, threads and the problem in extra_info."""
    def put(**info):
        benchmark.extra_info.update(machine)
        try:  # known only once a parallel kernel has run
            benchmark.extra_info["threading_layer"] = numba.threading_layer()
        except ValueError:
            pass
        benchmark.extra_info.update(numba_threads_now=numba.get_num_threads(), **info)
    return put


def edges(sizes):
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


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


def softmax_net(sizes, dtype=np.float64):
    return fastbp.MLP(sizes, hidden="sigmoid", output="softmax", loss="cross_entropy", dtype=dtype, seed=0)
