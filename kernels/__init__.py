"""The compiled core of fastbp: @njit functions of arrays and scalars only.

No classes, no Python objects, no I/O; fastbp imports kernels, never the reverse.
"""
from .activations import (CROSS_ENTROPY, IDENTITY, NO_LOSS, RELU, SIGMOID, SOFTMAX,
                          SQUARED, TANH)
from .batch import forward_batch, gradient_sum, loss_sum, sgd_epoch, step
from .blocked import block_work_size, blocked_parallel, blocked_serial
from .gradient import chunk_count, gradient_parallel, gradient_serial
from .numerical import finite_differences

__all__ = [
    "IDENTITY", "SIGMOID", "TANH", "RELU", "SOFTMAX", "SQUARED", "CROSS_ENTROPY", "NO_LOSS",
    "forward_batch", "loss_sum", "gradient_sum", "sgd_epoch", "step", "finite_differences",
    "chunk_count", "gradient_serial", "gradient_parallel", "block_work_size", "blocked_serial",
    "blocked_parallel",
]
