"""The compiled core of fastbp, installed as ``fastbp.kernels``: @njit functions of arrays and scalars.

No classes, no Python objects, no I/O; fastbp imports the kernels, never the reverse.

- activations: the activation and loss codes, each activation's value and derivative side by side
- layout: layer offsets and work sizes (plain Python, once per model or call)
- sample: one sample's forward pass and backpropagated gradient (inlined helpers)
- live: a sparse network's loops over live edges only, and the packing of its per-sample epochs
- rows: outputs and losses, and gradients, over many rows, sample by sample
- vmath: exp, tanh, sigmoid that vectorise; blas: gemm on parts of flat buffers (MKL or OpenBLAS)
- gradient: batch gradients sample by sample in fixed chunks; blocked: forward passes and batch
  gradients as matrix products; serial or parallel
- sgd, adam: per optimizer, the per-sample epoch with its fused update, the minibatch epoch, and the step
- numerical: finite-difference gradients
"""
from .activations import CROSS_ENTROPY, IDENTITY, NO_LOSS, RELU, SIGMOID, SOFTMAX, SQUARED, TANH
from .adam import adam_epoch, adam_minibatch_epoch_parallel, adam_minibatch_epoch_serial, adam_step
from .blas import BACKEND as BLAS_BACKEND
from .blocked import matrix_parallel, matrix_serial
from .gradient import gradient_parallel, gradient_serial
from .layout import block_work_size, chunk_count, edge_count, layer_offsets, param_count, sample_work_size
from .numerical import finite_differences
from .rows import forward_rows, gradient_rows
from .sgd import minibatch_epoch_parallel, minibatch_epoch_serial, sgd_epoch, sgd_step

__all__ = [
    "IDENTITY", "SIGMOID", "TANH", "RELU", "SOFTMAX", "SQUARED", "CROSS_ENTROPY", "NO_LOSS",
    "edge_count", "param_count", "layer_offsets", "sample_work_size", "block_work_size", "chunk_count",
    "forward_rows", "gradient_rows", "sgd_epoch", "sgd_step", "minibatch_epoch_serial", "minibatch_epoch_parallel",
    "adam_epoch", "adam_step", "adam_minibatch_epoch_serial", "adam_minibatch_epoch_parallel", "finite_differences",
    "gradient_serial", "gradient_parallel", "matrix_serial", "matrix_parallel", "BLAS_BACKEND",
]
