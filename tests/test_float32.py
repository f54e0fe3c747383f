"""float32 models stay float32: parameters, outputs, gradients, training and the kernels' own types."""
import numpy as np
import pytest
from conftest import random_problem
from numba import types

import fastbp
from fastbp import kernels


@pytest.fixture
def nets():
    return [fastbp.MLP([4, 6, 3], hidden="tanh", output="softmax", loss="cross_entropy", dtype=dt, seed=9)
            for dt in (np.float64, np.float32)]


def test_float32_model_keeps_float32(rng, nets):
    net64, net32 = nets
    X, Y = random_problem(rng, [4, 6, 3], "softmax", n=30)
    assert net32.params.dtype == np.float32
    assert all(W.dtype == np.float32 for W in net32.weights + net32.biases)
    assert net32.forward(X).dtype == np.float32
    g32 = net32.gradient(X, Y, l2=0.01)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, net64.gradient(X, Y, l2=0.01), rtol=1e-4, atol=1e-6)
    for mode in ("sgd", "minibatch", "batch"):
        net32.fit(X, Y, mode=mode, epochs=2, lr=0.1, momentum=0.5, l2=0.01, seed=0)
        assert net32.params.dtype == np.float32


def test_float32_kernels_compute_in_float32(rng, nets):
    """Typed constants: the compiled float32 kernels return float32 scalars, never float64."""
    _, net32 = nets
    X, Y = random_problem(rng, [4, 6, 3], "softmax", n=5)
    net32.fit(X, Y, mode="sgd", epochs=1)
    net32.gradient(X, Y)
    for kernel in (kernels.sgd_epoch, kernels.gradient_serial, kernels.forward_rows):
        float32_sigs = [sig for sig in kernel.nopython_signatures
                        if isinstance(sig.args[0], types.Array) and sig.args[0].dtype == types.float32]
        assert float32_sigs, f"{kernel.__name__} was not compiled for float32"
        assert all(sig.return_type == types.float32 for sig in float32_sigs)
