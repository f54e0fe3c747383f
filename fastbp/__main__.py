"""The ``fastbp`` command (also ``python -m fastbp``): Ctrl-C at any point, start-up included, exits 130."""
import sys


def run(argv=None):
    """Import the command line and run it; returns the exit code.

    The import (NumPy, Numba, the kernels) is inside the guard: Ctrl-C before the command line has
    started prints one line and exits 130, as it does later (fastbp.cli.main).
    """
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("fastbp: interrupted", file=sys.stderr)
        return 130
    return main(argv)


if __name__ == "__main__":
    sys.exit(run())
