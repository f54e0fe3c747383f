"""exp, tanh and sigmoid written so that LLVM vectorises the loops that call them.

libm's exp and tanh are scalar calls: a loop that calls one runs one element at a time
(np.tanh in a kernel loop: 17 ns per element, NumPy's own SIMD tanh 1.4 ns). These are
branch-free (selects, no calls), so a loop over a layer becomes SIMD code:

    exp(x) = 2^n (1 + expm1(r)),  x = n ln2 + r,  |r| <= ln2 / 2   (Cody-Waite: ln2 = hi + lo)
    expm1(r): Taylor polynomial of degree 13 in float64; float32 exp and sigmoid: Cephes' expf
              polynomial, in float32
    tanh(x) = sign(x) t / (t + 2),  t = expm1(2 |x|)   (no cancellation near 0); float32 results:
              x P(x^2) / Q(x^2), a rational fit, in float64
    sigmoid(z) = 1 / (1 + e) for z >= 0, e / (1 + e) below,  e = exp(-|z|)

exp and sigmoid compute in the argument's own precision. In float32, sigmoid corrects its
quotient by one step, q + (t - q (1 + e)) / (1 + e), with 1 + e held as two floats: without it
the errors of exp, of 1 + e and of the division added up to 2.3 ulp. tanh computes in float64
for both dtypes, its float32 result rounded once (see tanh). Measured in float32 against float64
over the test points (Intel Xeon): exp 0.97 ulp at most and 0.49-0.62 ns per element, sigmoid 1.43
ulp and 0.67-0.81 ns, where computing them in float64 gave 0.58 ulp and 0.73-0.93 ns, 0.58 ulp and
1.02-1.06 ns.
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


def _jit_part(fn):
    """A part of the functions below, inlined into them by Numba before typing: no compiled
    function of its own (each would add a compile pipeline to every kernel's first use)."""
    return numba.njit(inline="always", **_OPTIONS)(fn)


@intrinsic
def _is_single(typingctx, x):
    """True when x is a float32, as a compile-time constant: picks the constants of each precision."""
    def codegen(context, builder, signature, args):
        return context.get_constant(types.boolean, x == types.float32)
    return types.boolean(x), codegen


@intrinsic
def _pow2(typingctx, n):
    """2.0 ** n for n a whole number (a float) inside the normal exponent range, in n's type: the
    exponent field written directly, (n + bias) << mantissa bits. An intrinsic (LLVM instructions,
    no compiled function of its own), so it costs callers no compile time."""
    if n not in (types.float32, types.float64):
        return None
    single = n == types.float32

    def codegen(context, builder, signature, args):
        ints = ir.IntType(32 if single else 64)
        bits = builder.shl(builder.add(builder.fptosi(args[0], ints), ir.Constant(ints, 127 if single else 1023)),
                           ir.Constant(ints, 23 if single else 52))
        return builder.bitcast(bits, ir.FloatType() if single else ir.DoubleType())
    return n(n), codegen


@_jit_part
def _reduce(y):
    """(n, p) in float64: y = n ln2 + r with n an integer (as a float) and |r| <= ln2 / 2,
    p = expm1(r)."""
    n = np.floor(y * 1.44269504088896341 + 0.5)
    r = (y - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10
    q = 1 / 6227020800
    q = q * r + 1 / 479001600
    q = q * r + 1 / 39916800
    q = q * r + 1 / 3628800
    q = q * r + 1 / 362880
    q = q * r + 1 / 40320
    q = q * r + 1 / 5040
    q = q * r + 1 / 720
    q = q * r + 1 / 120
    q = q * r + 1 / 24
    q = q * r + 1 / 6
    q = q * r + 0.5
    return n, r + (r * r) * q


_F = np.float32
_LOG2E, _LN2_HI, _LN2_LO = _F(1.44269504088896341), _F(0.693359375), _F(-2.12194440e-4)  # hi has 9 bits: n hi is exact
_EXP_32 = tuple(_F(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                                1.6666665459e-1, 5.0000001201e-1))
_ZERO, _HALF, _ONE = _F(0), _F(0.5), _F(1)


@_jit_part
def _exp32(y):
    """e^y in float32 arithmetic for y in float32 (see exp)."""
    y = min(max(y, _F(-104.0)), _F(89.0))
    c0, c1, c2, c3, c4, c5 = _EXP_32
    n = np.floor(y * _LOG2E + _HALF)
    r = (y - n * _LN2_HI) - n * _LN2_LO
    p = (((((c0 * r + c1) * r + c2) * r + c3) * r + c4) * r + c5) * (r * r) + r + _ONE
    half = np.floor(n * _HALF)
    return (p * _pow2(half)) * _pow2(n - half)


@_jit_part
def _exp(y):
    """e^y in float64 for y in float64 (see exp)."""
    y = min(max(y, -750.0), 710.0)
    n, p = _reduce(y)
    half = np.floor(n * 0.5)
    return ((1.0 + p) * _pow2(half)) * _pow2(n - half)


@_jit_math
def exp(x):
    """e^x: inf above the dtype's range, gradual underflow to 0 below it, NaN for NaN."""
    if _is_single(x):
        e = _exp32(x)
    else:
        e = type(x)(_exp(np.float64(x)))  # (x is float64 here: casts that only keep both branches of one type)
    return e if x == x else x


# tanh(x) / x = P(x^2) / Q(x^2) for float32 results, |x| <= _TANH_CUT: a rational fit of relative error
# 2.2e-8 (least squares reweighted towards the largest errors, on [0, 9.03]), all coefficients positive
_TANH_P = (1.0, 0.1338204964919416, 0.003496698170961866, 2.0623230010130814e-05, 1.3366650798063072e-08)
_TANH_Q = (1.0, 0.46715370803802997, 0.025881477315262788, 0.0003287271266236378, 7.783070803552754e-07)
_TANH_CUT = _F(9.03)  # tanh rounds to +-1 in float32 from |x| = 9.011 on


@_jit_part
def _tanh32(x):
    """tanh(x) for x in float32 (see tanh)."""
    p0, p1, p2, p3, p4 = _TANH_P
    q0, q1, q2, q3, q4 = _TANH_Q
    z = np.float64(x)
    s = z * z
    p = (((p4 * s + p3) * s + p2) * s + p1) * s + p0
    q = (((q4 * s + q3) * s + q2) * s + q1) * s + q0
    r = np.float64(_ONE / _F(q))  # 1 / q to 2^-23 by a float32 division, then one Newton step: to 2^-46
    r = r * (2.0 - q * r)
    y = _F(z * p * r)
    return np.copysign(_ONE, x) if abs(x) > _TANH_CUT else y


@_jit_math
def tanh(x):
    """tanh(x), exactly +-1 once it rounds there, the sign of zero kept, NaN for NaN.

    float64: sign(x) t / (t + 2), t = expm1(2 |x|). float32: x P(x^2) / Q(x^2), a rational fit (no
    exp), in float64 with the quotient from a float32 division and a Newton step (a float64 division
    alone cost 0.54 ns per element in such a loop, a float32 one 0.16): 0.50-0.53 ns per element
    against 0.72-0.79 for the float64 expm1 route (Intel Xeon), at 0.87 ulp at most. In float32
    arithmetic throughout, the rational fit reached 4.5-5.5 ulp near +-1, where a float32's ulp is
    half its size above 1.
    """
    if _is_single(x):
        return _tanh32(x)
    u = 2.0 * min(abs(np.float64(x)), 19.5)
    n, p = _reduce(u)
    s = _pow2(n)
    t = s * p + (s - 1.0)  # expm1(u), exact in the scaling for the n this range gives
    y = type(x)(np.copysign(t / (t + 2.0), np.float64(x)))
    return y if x == x else x


@_jit_math
def sigmoid(z):
    """1 / (1 + e^-z) without overflow: exactly 0 and 1 in saturation, NaN for NaN."""
    if _is_single(z):
        e = _exp32(-abs(z))
        h = _ONE + e
        lo = e - (h - _ONE)  # 1 + e = h + lo exactly
        t = _ONE if z >= _ZERO else e
        inv = _ONE / h
        q = t * inv
        s = q + ((t - q * h) - q * lo) * inv  # one correcting step: t - q h is exact, fused
    else:
        y = np.float64(z)
        e = _exp(-abs(y))
        r = 1.0 / (1.0 + e)
        s = type(z)(r if y >= 0.0 else e * r)
    return s if z == z else z
