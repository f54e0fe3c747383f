"""Matrix products on parts of flat buffers, straight to BLAS: no slices, no copies, no transposes.

np.dot in a kernel takes whole contiguous arrays, so a block of rows of a transposed matrix
had to be copied out first. gemm here takes a buffer, an element offset and a row stride
(leading dimension), as BLAS itself does, and calls the same entry point Numba's np.dot
uses (numba_xxgemm, over SciPy's BLAS), so kernels calling it still cache.

All matrices are row-major: element (i, j) of a matrix at offset o with row stride ld is
buf[o + i * ld + j]. ``gemm`` computes, for C (m, n),

    C = alpha op(A) op(B) + beta C,   op(X) = X or X^T (trans_a, trans_b),  op(A) (m, k), op(B) (k, n)

Every element of C comes from one call over the whole inner dimension k, so splitting C into
blocks (for threads) never changes its bits.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import jit

_char = ir.IntType(8)


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
    sig = types.int32(trans_a, trans_b, m, n, k, alpha, A, a_off, lda, B, b_off, ldb, beta, C, c_off, ldc)

    def codegen(context, builder, signature, args):
        (t_a, t_b, m_, n_, k_, alpha_, a_, a_off_, lda_, b_, b_off_, ldb_, beta_, c_, c_off_, ldc_) = args
        intp = context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.IntType(32), [_char, _char, _char, intp, intp, intp, cgutils.voidptr_t,
                                                cgutils.voidptr_t, intp, cgutils.voidptr_t, intp,
                                                cgutils.voidptr_t, cgutils.voidptr_t, intp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        sigty = signature.args
        as_intp = [context.cast(builder, v, t, types.intp) for v, t in
                   ((m_, sigty[2]), (n_, sigty[3]), (k_, sigty[4]), (a_off_, sigty[7]), (lda_, sigty[8]),
                    (b_off_, sigty[10]), (ldb_, sigty[11]), (c_off_, sigty[14]), (ldc_, sigty[15]))]
        m_, n_, k_, a_off_, lda_, b_off_, ldb_, c_off_, ldc_ = as_intp
        slot_alpha = cgutils.alloca_once_value(builder, context.cast(builder, alpha_, sigty[5], dtype))
        slot_beta = cgutils.alloca_once_value(builder, context.cast(builder, beta_, sigty[12], dtype))
        kind = ir.Constant(_char, ord("d" if dtype == types.float64 else "s"))
        letter = {True: ir.Constant(_char, ord("t")), False: ir.Constant(_char, ord("n"))}
        t_a = builder.select(context.cast(builder, t_a, sigty[0], types.boolean), letter[True], letter[False])
        t_b = builder.select(context.cast(builder, t_b, sigty[1], types.boolean), letter[True], letter[False])
        return builder.call(fn, (kind, t_b, t_a, n_, m_, k_, builder.bitcast(slot_alpha, cgutils.voidptr_t),
                                 _pointer(context, builder, sigty[9], b_, b_off_), ldb_,
                                 _pointer(context, builder, sigty[6], a_, a_off_), lda_,
                                 builder.bitcast(slot_beta, cgutils.voidptr_t),
                                 _pointer(context, builder, sigty[13], c_, c_off_), ldc_))
    return sig, codegen


@jit
def resolve_blas(buf):
    """One 1 x 1 product on buf (1,): Numba looks up the BLAS function of buf's dtype on its first
    call, taking the GIL; a first call inside a parallel loop could wait for it forever."""
    gemm(False, False, 1, 1, 1, 1.0, buf, 0, 1, buf, 0, 1, 0.0, buf, 0, 1)
