"""Per-sample SGD throughput: fastbp's compiled epoch against the NumPy reference loop, side by side.

    python bench/sgd_throughput.py [--shapes 64,32,10 784,128,10] [--samples 2000] [--repeats 5]

Prints samples/s and weights*samples/s (edges times samples per second) per shape,
medians over repeats, warm JIT, one thread. Compile time is measured separately.
"""
import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

import fastbp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import reference as ref  # noqa: E402  (the test oracle doubles as the textbook NumPy peer)


def problem(sizes, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    labels = rng.integers(0, sizes[-1], n)
    return X, np.eye(sizes[-1])[labels]


def time_fastbp(sizes, X, Y, repeats):
    net = fastbp.MLP(sizes, hidden="sigmoid", output="softmax", loss="cross_entropy", seed=0)
    history = net.fit(X, Y, mode="sgd", epochs=repeats, lr=0.01, shuffle=False)
    return statistics.median(history.seconds), history.compile_seconds


def time_reference(sizes, X, Y, repeats):
    net = fastbp.MLP(sizes, hidden="sigmoid", output="softmax", loss="cross_entropy", seed=0)
    network = ref.unflatten(net.params, sizes)
    acts = ["sigmoid"] * (len(sizes) - 2) + ["softmax"]
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        network, _ = ref.sgd_nn(network, X, Y, range(X.shape[0]), acts, "cross_entropy", eta=0.01)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=["64,32,10", "784,128,10"])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--reference-samples", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    numba.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        threadpool_limits(1)
        blas = "; ".join(f"{i['internal_api']} {i['version']} {i.get('architecture', '')} "
                         f"{i['num_threads']} thread(s)" for i in threadpool_info())
    except ImportError:
        blas = "threadpoolctl not installed"
    print(f"# BLAS: {blas}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; python "
          f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}; 1 thread; float64; "
          f"sigmoid hidden, softmax + cross-entropy; median of {args.repeats} epochs")
    print(f"{'shape':>16} {'edges':>8} {'fastbp samples/s':>17} {'numpy samples/s':>16} {'ratio':>7} "
          f"{'fastbp weights*samples/s':>25} {'numpy weights*samples/s':>24}")
    for shape in args.shapes:
        sizes = [int(v) for v in shape.split(",")]
        edges = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        X, Y = problem(sizes, args.samples)
        fast, _ = time_fastbp(sizes, X, Y, args.repeats)
        slow = time_reference(sizes, X[:args.reference_samples], Y[:args.reference_samples], args.repeats)
        fast_rate = args.samples / fast
        slow_rate = args.reference_samples / slow
        print(f"{shape:>16} {edges:>8} {fast_rate:>17,.0f} {slow_rate:>16,.0f} {fast_rate / slow_rate:>7.1f} "
              f"{fast_rate * edges:>25.3e} {slow_rate * edges:>24.3e}")


if __name__ == "__main__":
    main()
