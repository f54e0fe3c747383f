"""exp, tanh and sigmoid written so that LLVM vectorises the loops that call them.

libm's exp and tanh are scalar calls: a loop that calls one runs one element at a time
(np.tanh in a kernel loop: 17 ns per element, NumPy's own SIMD tanh 1.4 ns). These are
branch-free (selects, no calls), so a loop over a layer becomes SIMD code:

    exp(x) = 2^n (1 + expm1(r)),  x = n ln2 + r,  |r| <= ln2 / 2   (Cody-Waite: ln2 = hi + lo)
    expm1(r): Taylor polynomial, degree 13 (float64) or 7 (float32), truncation below 1/4 ulp
    tanh(x) = sign(x) t / (t + 2),  t = expm1(2 |x|)   (no cancellation near 0)
    sigmoid(z) = 1 / (1 + e) for z >= 0, e / (1 + e) below,  e = exp(-|z|)

2^n is built from its bits; a scale beyond the exponent range is applied as two halves,
so overflow gives inf and underflow rounds gradually to the subnormals and 0. NaN in gives
NaN out. Measured against NumPy (float64 against long double) in tests/test_vmath.py.

Compiled with contraction (fused multiply-add) only: re-association would merge the two
halves of ln2 (Cody-Waite needs them apart) and "no signed zeros" would lose tanh(-0) = -0.
The flags stay on these instructions when LLVM inlines them into a fast-math kernel.
"""
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._jit import OPTIONS

_OPTIONS = dict(OPTIONS, fastmath={"contract"})


def _jit_math(fn):
    return numba.njit(forceinline=True, **_OPTIONS)(fn)


@intrinsic
def _is_single(typingctx, x):
    """True when x is a float32, as a compile-time constant: picks the constants of each precision."""
    def codegen(context, builder, signature, args):
        return context.get_constant(types.boolean, x == types.float32)
    return types.boolean(x), codegen


@intrinsic
def _from_bits(typingctx, bits):
    """The float whose bits are `bits`: int64 -> float64, int32 -> float32."""
    if bits not in (types.int64, types.int32):
        return None
    out = types.float64 if bits == types.int64 else types.float32

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType() if out == types.float64 else ir.FloatType())
    return out(bits), codegen


@_jit_math
def _pow2(n, x):
    """2.0 ** n in x's type, n an integer (as a float of x's type) inside the normal exponent range."""
    if _is_single(x):
        return _from_bits(np.int32((np.int32(n) + np.int32(127)) << np.int32(23)))
    return _from_bits(np.int64((np.int64(n) + np.int64(1023)) << np.int64(52)))


@_jit_math
def _reduce(x):
    """(n, p): x = n ln2 + r with n an integer (as a float) and |r| <= ln2 / 2, p = expm1(r)."""
    T = type(x)
    if _is_single(x):
        n = np.floor(x * T(1.44269504088896341) + T(0.5))
        r = (x - n * T(0.693359375)) - n * T(-2.12194440e-4)
        q = T(1 / 5040)
        q = q * r + T(1 / 720)
        q = q * r + T(1 / 120)
        q = q * r + T(1 / 24)
        q = q * r + T(1 / 6)
        q = q * r + T(0.5)
        return n, r + (r * r) * q
    n = np.floor(x * T(1.44269504088896341) + T(0.5))
    r = (x - n * T(6.93147180369123816490e-01)) - n * T(1.90821492927058770002e-10)
    q = T(1 / 6227020800)
    q = q * r + T(1 / 479001600)
    q = q * r + T(1 / 39916800)
    q = q * r + T(1 / 3628800)
    q = q * r + T(1 / 362880)
    q = q * r + T(1 / 40320)
    q = q * r + T(1 / 5040)
    q = q * r + T(1 / 720)
    q = q * r + T(1 / 120)
    q = q * r + T(1 / 24)
    q = q * r + T(1 / 6)
    q = q * r + T(0.5)
    return n, r + (r * r) * q


@_jit_math
def exp(x):
    """e^x: inf above the dtype's range, gradual underflow to 0 below it, NaN for NaN."""
    T = type(x)
    if _is_single(x):
        y = min(max(x, T(-104)), T(89))
    else:
        y = min(max(x, T(-750)), T(710))
    n, p = _reduce(y)
    half = np.floor(n * T(0.5))
    e = ((T(1) + p) * _pow2(half, x)) * _pow2(n - half, x)
    return e if x == x else x


@_jit_math
def tanh(x):
    """tanh(x), exactly +-1 once it rounds there, the sign of zero kept, NaN for NaN."""
    T = type(x)
    a = abs(x)
    if _is_single(x):
        u = T(2) * min(a, T(9.5))
    else:
        u = T(2) * min(a, T(19.5))
    n, p = _reduce(u)
    s = _pow2(n, x)
    t = s * p + (s - T(1))  # expm1(u), exact in the scaling for the n this range gives
    y = t / (t + T(2))
    y = np.copysign(y, x)
    return y if x == x else x


@_jit_math
def sigmoid(z):
    """1 / (1 + e^-z) without overflow: exactly 0 and 1 in saturation, NaN for NaN."""
    T = type(z)
    e = exp(-abs(z))
    r = T(1) / (T(1) + e)
    return r if z >= T(0) else e * r
