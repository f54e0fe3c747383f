"""Benchmark fixtures: problems, the machine record, and quick/full sizes.

Run: python -m pytest bench (timed) or python -m pytest bench --benchmark-disable (each once,
as CI does). `python -m bench` runs them and writes RESULTS.md from the saved JSON.
"""
import os

import numba
import pytest

from bench.problems import cores
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
        benchmark.extra_info.update(numba_threads_now=numba.get_num_threads(), process_cores=cores(), **info)
    return put
