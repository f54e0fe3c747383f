"""What a measurement ran on: CPU, cores, versions, threads. Recorded with every result."""
import os
import platform
import time

import numba
import numpy as np

from . import kernels


def cpu_model():
    """The CPU's model name."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info():
    """Numpy's BLAS as threadpoolctl sees it (library, version, kernel, threads), if installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture') or ''} "
                     f"{i.get('num_threads')} thread(s)".replace("  ", " ") for i in threadpool_info())


def machine_info():
    """The machine, versions and thread settings, as a dict to record with a result."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = "not initialised"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "threading_layer": layer,
        "blas": blas_info(),
        "kernel_blas": kernels.BLAS_BACKEND,  # the BLAS the matrix kernels call (kernels.blas)
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "unset"),
    }


def describe(info):
    """One line for a report."""
    return (f"{info['cpu']} ({info['machine']}, {info['cores']} cores); Python {info['python']}, "
            f"NumPy {info['numpy']}, Numba {info['numba']}; {info['numba_threads']} Numba thread(s), "
            f"threading layer {info['threading_layer']}; BLAS: {info['blas']}; "
            f"the kernels' products: {info.get('kernel_blas', 'openblas')}; "
            f"OPENBLAS_CORETYPE={info['openblas_coretype']}; {info['date']}")
