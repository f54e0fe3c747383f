"""fastbp's benchmarks: pytest-benchmark suites with peers, the experiments' runner, and the
report generator that writes RESULTS.md. Needs the source tree: run from the repository root,
``python -m bench --help``."""
import importlib

# The peers' libraries are imported before fastbp: with FASTBP_BLAS=mkl fastbp sets MKL to run
# sequentially for the whole process, and PyTorch imported after it then ran its products on one
# thread (a 4096 x 784 x 128 product 2x slower). Imported first, it keeps its own.
for _peer in ("torch", "jax"):
    try:
        importlib.import_module(_peer)
    except ImportError:
        pass
