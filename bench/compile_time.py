"""First-call seconds of each kernel in a new process: without a cache (compiling) and with it.

    python bench/compile_time.py

Runs two fresh processes sharing an empty NUMBA_CACHE_DIR: the first compiles and
writes the cache, the second loads it. Each times every kernel's first call
(float64, a 64-32-10 network), in the order listed.
"""
import json
import os
import subprocess
import sys
import tempfile

PROBE = r"""
import json, time
t0 = time.perf_counter()
import numpy as np, kernels, fastbp
times = {"import fastbp": time.perf_counter() - t0}
net = fastbp.MLP([64, 32, 10], output="softmax", loss="cross_entropy", seed=0)
X = np.random.default_rng(0).normal(size=(8, 64)); Y = np.eye(10)[np.arange(8)]
rows = np.arange(8); work = net._work(); grad = np.zeros_like(net.params)
hyper = np.array([0.1, 0.0, 0.0])
common = dict(params=net.params, sizes=net._sizes, acts=net._acts)
calls = {
    "forward_batch": lambda: kernels.forward_batch(X=X, rows=rows, out=np.empty(80), work=work, **common),
    "loss_sum": lambda: kernels.loss_sum(loss=net._loss_code, X=X, Y=Y, rows=rows, work=work, **common),
    "gradient_sum": lambda: kernels.gradient_sum(loss=net._loss_code, X=X, Y=Y, rows=rows, grad=grad, work=work, **common),
    "sgd_epoch": lambda: kernels.sgd_epoch(velocity=grad, loss=net._loss_code, X=X, Y=Y, rows=rows, hyper=hyper, work=work, **common),
    "step": lambda: kernels.step(params=net.params, velocity=grad, grad=grad, hyper=hyper),
}
for name, call in calls.items():
    t0 = time.perf_counter(); call(); times[name] = time.perf_counter() - t0
print(json.dumps(times))
"""


def first_calls(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    with tempfile.TemporaryDirectory() as cache_dir:
        cold = first_calls(cache_dir)
        warm = first_calls(cache_dir)
    print(f"{'first call of':>16} {'no cache (s)':>13} {'cached (s)':>11}")
    for name in cold:
        print(f"{name:>16} {cold[name]:>13.3f} {warm[name]:>11.3f}")


if __name__ == "__main__":
    main()
