"""The vectorisable exp, tanh and sigmoid of kernels/vmath.py against NumPy.

Errors in units in the last place (ulp) of the result's dtype, against NumPy in long double
for float64 (where long double is wider) and in float64 for float32: at most 4 ulp (float64)
and 2 ulp (float32) over more than 10^6 points across [-750, 750]; saturation, signed zeros,
infinities, NaN and subnormals exact.
"""
import numba
import numpy as np
import pytest
from fastbp.kernels import vmath

FUNCTIONS = ("exp", "tanh", "sigmoid")
MAX_ULP = {np.float64: 4.0, np.float32: 2.0}


@numba.njit
def _apply(x, out, code):
    """A kernel loop over the elements, as the activation loops call these functions."""
    if code == 0:
        for i in range(x.shape[0]):
            out[i] = vmath.exp(x[i])
    elif code == 1:
        for i in range(x.shape[0]):
            out[i] = vmath.tanh(x[i])
    else:
        for i in range(x.shape[0]):
            out[i] = vmath.sigmoid(x[i])


def apply(name, x):
    out = np.empty_like(x)
    _apply(x, out, FUNCTIONS.index(name))
    return out


def reference(name, x):
    """NumPy in a wider type: long double for float64 (when it is wider), float64 for float32."""
    wide = np.longdouble if x.dtype == np.float64 else np.float64
    xw = x.astype(wide)
    with np.errstate(over="ignore"):
        if name == "exp":
            return np.exp(xw)
        if name == "tanh":
            return np.tanh(xw)
        return 1 / (1 + np.exp(-xw))


def ulp_error(y, ref):
    """|y - ref| in units of the spacing of ref rounded to y's dtype; 0 where both are the same inf or NaN."""
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = ref.astype(y.dtype)
        err = np.abs(y.astype(ref.dtype) - ref) / np.spacing(np.abs(rounded)).astype(ref.dtype)
    same = (np.isinf(y) & (y == rounded)) | (np.isnan(y) & np.isnan(rounded))
    err[same] = 0
    return err


def points(dtype):
    """10^6 uniform on [-750, 750], 2 x 10^5 on [-20, 20], 2 x 10^5 of magnitudes 1e-30 to 1."""
    rng = np.random.default_rng(7)
    tiny = rng.choice([-1.0, 1.0], 200_000) * 10.0 ** rng.uniform(-30, 0, 200_000)
    x = np.concatenate([rng.uniform(-750, 750, 1_000_000), rng.uniform(-20, 20, 200_000), tiny])
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_within_ulps_of_numpy(name, dtype):
    if dtype == np.float64 and np.finfo(np.longdouble).nmant <= np.finfo(np.float64).nmant:
        pytest.skip("long double is no wider than float64 here: no reference")
    x = points(dtype)
    y = apply(name, x)
    assert y.dtype == dtype
    err = ulp_error(y, reference(name, x))
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP[dtype], f"{name}({x[worst]!r}) = {y[worst]!r}: {err[worst]:.2f} ulp"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_values(dtype):
    info = np.finfo(dtype)
    sub = np.array([info.smallest_subnormal, -info.smallest_subnormal, info.smallest_normal / 4], dtype=dtype)
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype=dtype)
    exp, tanh, sigmoid = (apply(name, x) for name in FUNCTIONS)
    np.testing.assert_array_equal(exp, [1, 1, np.inf, 0, np.nan])
    np.testing.assert_array_equal(tanh, [0, -0.0, 1, -1, np.nan])
    assert np.signbit(tanh[1]) and not np.signbit(tanh[0])
    np.testing.assert_array_equal(sigmoid, [0.5, 0.5, 1, 0, np.nan])
    np.testing.assert_array_equal(apply("tanh", sub), sub)  # tanh x = x below the ulp of x^3 / 3
    np.testing.assert_array_equal(apply("exp", sub), np.ones(3, dtype))
    np.testing.assert_array_equal(apply("sigmoid", sub), np.full(3, 0.5, dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_saturation_is_exact(dtype):
    """Where NumPy's result rounds to 0, +-1 or inf, these give exactly that; subnormal results stay subnormal."""
    x = np.concatenate([np.linspace(-800, -10, 2001), np.linspace(10, 800, 2001)]).astype(dtype)
    ref_tanh = reference("tanh", x).astype(dtype)
    ref_sig = reference("sigmoid", x).astype(dtype)
    with np.errstate(over="ignore"):
        ref_exp = reference("exp", x).astype(dtype)
    for name, ref in (("tanh", ref_tanh), ("sigmoid", ref_sig), ("exp", ref_exp)):
        y = apply(name, x)
        saturated = np.isin(ref, [0, 1, -1, np.inf])
        assert saturated.sum() > 100
        np.testing.assert_array_equal(y[saturated], ref[saturated], err_msg=name)
    tiny = x[(ref_exp > 0) & (ref_exp < np.finfo(dtype).smallest_normal)]
    assert tiny.size and np.all(apply("exp", tiny) > 0)


def test_loops_run_in_the_dtype_they_are_given():
    """float32 in, float32 arithmetic: the result differs from float64's rounded to float32 somewhere."""
    x = np.linspace(-5, 5, 10001)
    y64 = apply("tanh", x).astype(np.float32)
    y32 = apply("tanh", x.astype(np.float32))
    assert y32.dtype == np.float32
    assert np.max(ulp_error(y32, np.tanh(x))) <= MAX_ULP[np.float32]
    assert np.any(y32 != y64)
