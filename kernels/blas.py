"""Matrix products on parts of flat buffers, straight to BLAS: no slices, no copies, no transposes.

np.dot in a kernel takes whole contiguous arrays, so a block of rows of a transposed matrix
had to be copied out first. gemm here takes a buffer, an element offset and a row stride
(leading dimension), as BLAS itself does.

All matrices are row-major: element (i, j) of a matrix at offset o with row stride ld is
buf[o + i * ld + j]. ``gemm`` computes, for C (m, n),

    C = alpha op(A) op(B) + beta C,   op(X) = X or X^T (trans_a, trans_b),  op(A) (m, k), op(B) (k, n)

Every element of C comes from one call over the whole inner dimension k, so splitting C into
blocks (for threads) never changes its bits.

Which BLAS: the kernels call the symbols fastbp_dgemm and fastbp_sgemm (Fortran gemm), bound
when this module is imported (``BACKEND`` says to what): to SciPy's OpenBLAS, the one np.dot in
Numba calls, or with FASTBP_BLAS=mkl to Intel MKL's (``pip install fastbp[mkl]``), 1.1-1.5x
faster on the kernels' products here. Bound by name, the kernels still cache: a cached kernel
finds the symbol when it is loaded. MKL is set to run sequentially (the kernels' blocks are the
threads) and in its reproducible mode, so that a product's bits do not depend on how its operands
happen to be aligned. Those settings are the whole process's: a library that links MKL and is
imported after fastbp (PyTorch) then runs its MKL calls on one thread, so MKL is opt-in, and
refused when something in the process loaded it first.
"""
import ctypes
import importlib.metadata
import os

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

BACKENDS = ("mkl", "openblas")
_MKL_THREADING_SEQUENTIAL = 1
_MKL_CBWR_AUTO_STRICT = 2 | 0x10000  # MKL_CBWR_AUTO | MKL_CBWR_STRICT: same bits whatever the alignment


def _scipy_gemm(name):
    """The address of SciPy's Fortran `name` (dgemm or sgemm), from its Cython capsule."""
    from scipy.linalg import cython_blas
    capsule = cython_blas.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return get_pointer(capsule, get_name(capsule))


def _mkl():
    """(libmkl_rt, set up sequential and reproducible, or None; why not, or None)."""
    try:
        files = importlib.metadata.distribution("mkl").files or ()
    except importlib.metadata.PackageNotFoundError:
        return None, "the mkl package is not installed"
    paths = [f for f in files if f.name.startswith("libmkl_rt.so")]
    if not paths:
        return None, "the mkl package has no libmkl_rt.so (not Linux?)"
    try:
        with open("/proc/self/maps") as maps:
            if "libmkl_rt" in maps.read():
                return None, "MKL was already loaded by something else in this process"
        lib = ctypes.CDLL(str(paths[0].locate()))
    except OSError as exc:
        return None, f"MKL could not be loaded: {exc}"
    lib.MKL_Set_Threading_Layer(_MKL_THREADING_SEQUENTIAL)
    if lib.MKL_CBWR_Set(_MKL_CBWR_AUTO_STRICT) != 0:
        return None, "MKL refused its reproducible mode"
    return lib, None


def _bind():
    """Bind fastbp_dgemm and fastbp_sgemm; returns the backend's name."""
    wanted = os.environ.get("FASTBP_BLAS", "").lower() or "openblas"
    if wanted not in BACKENDS:
        raise ValueError(f"FASTBP_BLAS must be one of {', '.join(BACKENDS)}, got {wanted!r}")
    lib = None
    if wanted == "mkl":
        lib, why = _mkl()
        if lib is None:
            raise ImportError(f"FASTBP_BLAS=mkl, but {why}")
    for name in ("dgemm", "sgemm"):
        address = ctypes.cast(getattr(lib, name), ctypes.c_void_p).value if lib is not None else _scipy_gemm(name)
        llvm.add_symbol("fastbp_" + name, address)
    return wanted


BACKEND = _bind()  # "openblas" or "mkl"

_char = ir.IntType(8)
_int = ir.IntType(32)  # Fortran INTEGER of SciPy's BLAS and of MKL's LP64 interface


def _pointer(context, builder, ary_type, ary, offset):
    """The address of element `offset` of array `ary`, as void*."""
    array = context.make_array(ary_type)(context, builder, ary)
    return builder.bitcast(builder.gep(array.data, [offset]), cgutils.voidptr_t)


@intrinsic
def gemm(typingctx, trans_a, trans_b, m, n, k, alpha, A, a_off, lda, B, b_off, ldb, beta, C, c_off, ldc):
    """Row-major C = alpha op(A) op(B) + beta C, through column-major BLAS as C^T = op(B)^T op(A)^T."""
    if not (isinstance(A, types.Array) and isinstance(B, types.Array) and isinstance(C, types.Array)):
        return None
    dtype = C.dtype
    if dtype not in (types.float32, types.float64) or A.dtype != dtype or B.dtype != dtype:
        return None
    sig = types.void(trans_a, trans_b, m, n, k, alpha, A, a_off, lda, B, b_off, ldb, beta, C, c_off, ldc)

    def codegen(context, builder, signature, args):
        (t_a, t_b, m_, n_, k_, alpha_, a_, a_off_, lda_, b_, b_off_, ldb_, beta_, c_, c_off_, ldc_) = args
        sigty = signature.args
        vp = cgutils.voidptr_t
        fnty = ir.FunctionType(ir.VoidType(), [vp] * 13)
        name = "fastbp_dgemm" if dtype == types.float64 else "fastbp_sgemm"
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)

        def slot(value):  # Fortran passes every argument by address
            return builder.bitcast(cgutils.alloca_once_value(builder, value), vp)

        def integer(value, ty):
            return slot(builder.trunc(context.cast(builder, value, ty, types.int64), _int))

        def letter(flag, ty):
            return slot(builder.select(context.cast(builder, flag, ty, types.boolean), ir.Constant(_char, ord("T")),
                                       ir.Constant(_char, ord("N"))))

        a_off_, b_off_, c_off_ = (context.cast(builder, v, t, types.intp) for v, t in
                                  ((a_off_, sigty[7]), (b_off_, sigty[10]), (c_off_, sigty[14])))
        alpha_, beta_ = context.cast(builder, alpha_, sigty[5], dtype), context.cast(builder, beta_, sigty[12], dtype)
        builder.call(fn, (letter(t_b, sigty[1]), letter(t_a, sigty[0]), integer(n_, sigty[3]),
                          integer(m_, sigty[2]), integer(k_, sigty[4]), slot(alpha_),
                          _pointer(context, builder, sigty[9], b_, b_off_), integer(ldb_, sigty[11]),
                          _pointer(context, builder, sigty[6], a_, a_off_), integer(lda_, sigty[8]),
                          slot(beta_),
                          _pointer(context, builder, sigty[13], c_, c_off_), integer(ldc_, sigty[15])))
        return context.get_dummy_value()
    return sig, codegen
