"""fastbp.distributed against in-process training on this machine: ``python -m bench distributed``.

Per-step overhead: a batch step of a 2-4-1 network on 64 rows, where compute is nothing, so the
time is the round trip (parameters out, one task per partition, gradients back, the reduce).
Throughput: batch gradient steps of 784-128-10 on 40,000 rows (float64): in this process
(1 and 2 Numba threads) and on LocalClusters of 1 and 2 worker processes of one thread each,
8 partitions. Medians of the repeats. Prints JSON.
"""
import json
import sys
import time

import numpy as np

import fastbp
from fastbp import distributed as fd
from fastbp.machine import machine_info
from fastbp.threads import using_threads

ROWS = 40_000
SIZES = [784, 128, 10]
REPEATS = 7


def median_seconds(f, repeats=REPEATS):
    f()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(quick=False):
    from distributed import Client, LocalCluster
    rows = 4_000 if quick else ROWS
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, SIZES[0]))
    y = rng.integers(0, SIZES[-1], rows)
    net = fastbp.MLP(SIZES, hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    tiny = fastbp.MLP([2, 4, 1], seed=0)
    Xt, yt = rng.standard_normal((64, 2)), rng.standard_normal(64)
    result = {"rows": rows, "sizes": SIZES, "partitions": fd.PARTITIONS, "n_params": net.n_params,
              "in_process": {}, "workers": {}, "machine": machine_info()}
    for threads in (1, 2):
        with using_threads(threads):
            result["in_process"][threads] = median_seconds(lambda: net.gradient(X, y))
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0") as cluster, \
                Client(cluster) as client:
            step = {}
            for name, model, data in (("tiny", tiny, (Xt, yt)), ("large", net, (X, y))):
                fd.fit(model, *data, mode="batch", epochs=1, lr=1e-9, client=client)  # kernels compiled on workers
                history = fd.fit(model, *data, mode="batch", epochs=REPEATS, lr=1e-9, client=client)
                step[name] = float(np.median(history.seconds))
            result["workers"][workers] = step
    return result


if __name__ == "__main__":
    json.dump(main("--quick" in sys.argv), sys.stdout)
