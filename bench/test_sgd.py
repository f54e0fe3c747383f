"""Per-sample (online) SGD, one epoch: fastbp's compiled epoch against its peers, per shape.

All compute the same thing: sigmoid hidden layers, identity output, squared loss
0.5 * sum (a - y)^2 per sample, plain SGD with lr = 0.01, one update per sample in order;
every peer starts from fastbp's initial weights and must end the epoch with its weights. One
thread each: JAX in a process pinned to one core (problems.jax_on).
"""
import numpy as np
import pytest

import fastbp
from bench import peers
from bench.problems import edges, jax_on, regression, run_pedantic
from fastbp import kernels

SHAPES = ["2-2-1", "4-8-3", "64-32-10", "784-128-10", "784-256-256-10", "1024-1024-1024-10"]
IMPLEMENTATIONS = ["fastbp", "numpy", "torch", "jax-step", "jax-scan", "sklearn"]
LR = 0.01


def n_samples(sizes, quick):
    return int(np.clip((2e5 if quick else 4e6) / edges(sizes), 20, 4000 if quick else 20000))


class Epoch:
    """One network and data set; runs an epoch with a given implementation, from the same start."""

    def __init__(self, sizes, n):
        self.sizes = sizes
        self.net = fastbp.MLP(sizes, hidden="sigmoid", output="identity", loss="squared", seed=0)
        self.start = self.net.params.copy()
        self.X, self.Y = regression(sizes, n)
        self.expected = None

    def fastbp_runner(self):
        net = self.net
        velocity = np.zeros_like(net.params)
        rows = np.arange(self.X.shape[0])
        work = fastbp.engine.Workspace(net).sample

        def setup():
            net.params[:] = self.start

        def run():
            kernels.sgd_epoch(**net.kernel_args(), velocity=velocity, loss=net.loss_code, X=self.X, Y=self.Y,
                              rows=rows, lr=LR, momentum=0.0, nesterov=False, l2=0.0, work=work)

        def result():
            return [(W.copy(), b.copy()) for W, b in zip(net.weights, net.biases)]
        return setup, run, result

    def expected_layers(self):
        if self.expected is None:
            setup, run, result = self.fastbp_runner()
            setup()
            run()
            self.expected = result()
            self.net.params[:] = self.start
        return self.expected


@pytest.fixture(scope="module")
def epochs(quick):
    cache = {}

    def get(shape):
        if shape not in cache:
            sizes = [int(v) for v in shape.split("-")]
            cache[shape] = Epoch(sizes, n_samples(sizes, quick))
        return cache[shape]
    return get


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_sgd_epoch(benchmark, record, epochs, quick, shape, implementation):
    if quick and shape == "1024-1024-1024-10" and implementation != "fastbp":
        pytest.skip("quick mode: the largest shape only for fastbp")
    if implementation.startswith("jax"):
        jax_on(1)
    epoch = epochs(shape)
    benchmark.group = f"sgd epoch {shape}"
    start = fastbp.MLP(epoch.sizes, seed=0).layer_views(epoch.start)
    start = [(W.copy(), b.copy()) for W, b in zip(*start)]
    if implementation == "fastbp":
        setup, run, result = epoch.fastbp_runner()
    else:
        maker = peers.SGD_PEERS[implementation]
        made = maker(start, epoch.X, epoch.Y, LR)
        if made is None:
            pytest.skip(f"{implementation} is not installed")
        setup, run, result = made
    expected = epoch.expected_layers()
    setup()
    run()  # warm-up: JIT, caches; also the answer we check
    for (W, b), (W_ref, b_ref) in zip(result(), expected):
        np.testing.assert_allclose(W, W_ref, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(b, b_ref, rtol=1e-7, atol=1e-10)
    record(implementation=implementation, shape=shape, edges=edges(epoch.sizes), samples=epoch.X.shape[0],
           batch=1, threads=1, dtype="float64", kind="sgd")
    run_pedantic(benchmark, run, setup, rounds=3 if quick else 15)
