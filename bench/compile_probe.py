"""First-call seconds of fastbp's kernels in this process, printed as JSON.

Run as ``python -m bench.compile_probe`` in a new process (bench.__main__ does, twice, with an
empty NUMBA_CACHE_DIR: the first run compiles, the second loads what the first wrote). Timed
first: the import, then `fastbp train`'s own path on the default data (the compile seconds it
reports), then the first call of every kernel.
"""
import json
import time


def main():
    t0 = time.perf_counter()
    import numpy as np

    import fastbp
    from fastbp import kernels
    from fastbp.engine import Workspace
    times = {"import fastbp": time.perf_counter() - t0}

    X, y = fastbp.datasets.load("iris")
    net = fastbp.MLP([4, 16, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    t0 = time.perf_counter()
    history = net.fit(X, y, epochs=1, validation=(X[:10], y[:10]))
    times["fastbp train (sgd, its compile seconds)"] = history.compile_seconds
    times["fastbp train (sgd, first fit call)"] = time.perf_counter() - t0

    net = fastbp.MLP([64, 32, 10], output="softmax", loss="cross_entropy", seed=0)
    X = np.random.default_rng(0).normal(size=(8, 64))
    Y = np.eye(10)[np.arange(8)]
    rows = np.arange(8)
    space = Workspace(net)
    grad = np.zeros_like(net.params)
    model = dict(net.kernel_args(), loss=net.loss_code, X=X, Y=Y, rows=rows)
    T = net.dtype.type
    partial, chunk_work = space.chunks(8)
    adam = dict(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, hat=False)
    calls = {
        "forward_rows": lambda: kernels.forward_rows(**model, out=np.empty((8, 10)), work=space.sample),
        "gradient_rows": lambda: kernels.gradient_rows(**model, grad=grad, work=space.sample),
        "sgd_epoch": lambda: kernels.sgd_epoch(**model, velocity=grad, lr=T(0.1), momentum=T(0), nesterov=False,
                                               l2=T(0), work=space.sample),
        "sgd_step": lambda: kernels.sgd_step(params=net.params, velocity=grad, grad=grad, lr=T(0.1), momentum=T(0),
                                             nesterov=False),
        "adam_epoch": lambda: kernels.adam_epoch(**model, m=np.zeros_like(grad), v=np.zeros_like(grad),
                                                 powers=np.array([0.9, 0.999]), **adam, l2=T(0), work=space.sample),
        "adam_step": lambda: kernels.adam_step(params=net.params, m=np.zeros_like(grad), v=np.zeros_like(grad),
                                               grad=grad, powers=np.array([0.9, 0.999]), **adam),
        "gradient_serial": lambda: kernels.gradient_serial(**model, grad=grad, partial=partial, work=chunk_work),
        "gradient_parallel": lambda: kernels.gradient_parallel(**model, grad=grad, partial=partial, work=chunk_work),
        "matrix_serial": lambda: kernels.matrix_serial(**model, out=np.empty((0, 10)), grad=grad,
                                                       work=space.matrix(8), scale=T(1), check=False,
                                                       update=False, decay=T(0)),
        "matrix_parallel": lambda: kernels.matrix_parallel(**model, out=np.empty((0, 10)), grad=grad,
                                                           work=space.matrix(8), scale=T(1), check=False,
                                                           update=False, decay=T(0)),
        "finite_differences": lambda: kernels.finite_differences(**model, eps=T(1e-6), l2=T(0), central=True,
                                                                 targets=np.arange(net.n_params, dtype=np.uint64),
                                                                 grad=grad, work=space.sample),
    }
    for name, call in calls.items():
        t0 = time.perf_counter()
        call()
        times[name] = time.perf_counter() - t0
    print(json.dumps(times))


if __name__ == "__main__":
    main()
