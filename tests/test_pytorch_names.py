"""PyTorch's names and behaviours where PyTorch has the name, and the traps they close.

Each differentiable case is checked against float64 central differences with a random
upstream gradient (``mt.gradcheck``); shapes, axes and dims are drawn by hypothesis,
negative ones included.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mytorch as mt
from mytorch import ops

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)
seeds = st.integers(0, 2**31 - 1)
ranked_shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


def values(seed: int, shape, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def check(fn, *inputs, seed: int = 0) -> None:
    report = mt.gradcheck(fn, *inputs, seed=seed)
    assert report, str(report)


def maybe_negative(draw, axis: int, ndim: int) -> int:
    return axis - ndim if draw(st.booleans()) else axis


# --- transpose, permute: negative axes (the old Transpose.gradient bug) -------------------


def test_transpose_with_negative_axes_on_a_square_matrix():
    """The bug: argsort((-1, 0)) is (0, 1), so the gradient came back untransposed."""
    a = mt.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    upstream = np.array([[0.3, -1.1], [0.7, 2.0]])
    mt.transpose(a, (-1, 0)).backward(upstream)
    np.testing.assert_array_equal(a.grad.data, upstream.T)


@SETTINGS
@given(shape=ranked_shapes, seed=seeds, data=st.data())
def test_permutations_with_negative_axes(shape, seed, data):
    ndim = len(shape)
    perm = tuple(
        maybe_negative(data.draw, a, ndim) for a in data.draw(st.permutations(range(ndim)))
    )
    x = values(seed, shape)
    check(lambda a: mt.transpose(a, perm), x, seed=seed)
    check(lambda a: a.permute(*perm), x, seed=seed)
    np.testing.assert_array_equal(mt.Tensor(x).permute(perm).data, np.transpose(x, perm))


@SETTINGS
@given(shape=ranked_shapes, seed=seeds, data=st.data())
def test_transpose_swaps_two_dims_like_pytorch(shape, seed, data):
    ndim = len(shape)
    dim0 = maybe_negative(data.draw, data.draw(st.integers(0, ndim - 1)), ndim)
    dim1 = maybe_negative(data.draw, data.draw(st.integers(0, ndim - 1)), ndim)
    x = values(seed, shape)
    np.testing.assert_array_equal(
        mt.Tensor(x).transpose(dim0, dim1).data, np.swapaxes(x, dim0, dim1)
    )
    check(lambda a: a.transpose(dim0, dim1), x, seed=seed)


def test_transpose_of_a_matrix_is_a_swap_not_the_identity():
    x = np.arange(6.0).reshape(2, 3)
    assert mt.Tensor(x).transpose(0, 1).shape == (3, 2)
    np.testing.assert_array_equal(mt.Tensor(x).transpose(0, 1).data, x.T)
    np.testing.assert_array_equal(mt.Tensor(x).T.data, x.T)


# --- dim= / keepdim= beside axis= / keepdims= --------------------------------------------


@pytest.mark.parametrize("method", ["sum", "mean", "max"])
@SETTINGS
@given(shape=ranked_shapes, seed=seeds, data=st.data())
def test_dim_and_keepdim_mean_axis_and_keepdims(method, shape, seed, data):
    ndim = len(shape)
    dim = maybe_negative(data.draw, data.draw(st.integers(0, ndim - 1)), ndim)
    keep = data.draw(st.booleans())
    rng = np.random.default_rng(seed)
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1  # distinct: max has no ties
    torch_style = getattr(mt.Tensor(x), method)(dim=dim, keepdim=keep)
    numpy_style = getattr(mt.Tensor(x), method)(axis=dim, keepdims=keep)
    np.testing.assert_allclose(torch_style.data, getattr(np, method)(x, axis=dim, keepdims=keep))
    np.testing.assert_array_equal(torch_style.data, numpy_style.data)
    check(lambda a: getattr(a, method)(dim=dim, keepdim=keep), x, seed=seed)


def test_axis_and_dim_together_is_an_error():
    with pytest.raises(TypeError, match="axis= or dim="):
        mt.Tensor([1.0, 2.0]).sum(axis=0, dim=0)


# --- sqrt, abs, view, expand, .matmul, requires_grad_ ------------------------------------


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), max_size=3).map(tuple), seed=seeds)
def test_sqrt_and_abs(shape, seed):
    positive = values(seed, shape, 0.3, 3.0)
    check(mt.sqrt, positive, seed=seed)
    check(lambda a: a.sqrt(), positive, seed=seed)
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=shape)
    away_from_kink = positive * signs
    check(mt.abs, away_from_kink, seed=seed)
    check(lambda a: abs(a), away_from_kink, seed=seed)
    np.testing.assert_array_equal(mt.Tensor(away_from_kink).abs().data, np.abs(away_from_kink))


def test_abs_gradient_at_zero_is_zero_like_pytorch():
    x = mt.Tensor([0.0, -2.0], requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, -1.0])


@SETTINGS
@given(shape=ranked_shapes, seed=seeds, data=st.data())
def test_view_and_expand(shape, seed, data):
    x = values(seed, shape)
    n = x.size
    check(lambda a: a.view(n) * mt.Tensor(np.arange(n, dtype=float)), x, seed=seed)
    check(lambda a: a.view(-1, 1), x, seed=seed)
    ones = tuple(1 for _ in shape)
    small = values(seed + 1, ones)
    target = (data.draw(st.integers(1, 3)),) + tuple(data.draw(st.integers(1, 3)) for _ in shape)
    check(lambda a: a.expand(*target), small, seed=seed)
    assert mt.Tensor(np.zeros((3, 1))).expand(-1, 4).shape == (3, 4)


@SETTINGS
@given(n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4), seed=seeds)
def test_matmul_method(n, k, m, seed):
    check(lambda a, b: a.matmul(b), values(seed, (n, k)), values(seed + 1, (k, m)), seed=seed)


def test_requires_grad_in_place():
    x = mt.Tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    assert not x.requires_grad_(False).requires_grad


# --- integers and bools --------------------------------------------------------------------


def test_data_without_a_dtype_becomes_float64():
    assert mt.Tensor([1, 2, 3]).dtype == np.float64
    assert mt.Tensor(np.array([True, False])).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_integer_tensors_cannot_require_grad(dtype):
    with pytest.raises(mt.GradientError, match="only floating-point tensors"):
        mt.Tensor([1, 0], dtype=dtype, requires_grad=True)
    t = mt.Tensor([1, 0], dtype=dtype)
    with pytest.raises(mt.GradientError, match=f"dtype {np.dtype(dtype)}"):
        t.requires_grad_()


def test_an_integer_input_gets_no_gradient_and_does_not_upcast_silently():
    counts = mt.Tensor([1, 2, 3], dtype=np.int64)
    w = mt.Tensor([0.5, -1.0, 2.0], requires_grad=True)
    (w * counts).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 2.0, 3.0])
    assert counts.grad is None and w.grad.dtype == np.float64


# --- comparisons ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, numpy_op",
    [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
     ("gt", np.greater), ("ge", np.greater_equal)],
)  # fmt: skip
def test_comparisons_give_bool_tensors_that_are_never_recorded(name, numpy_op):
    rng = np.random.default_rng(0)
    a_data, b_data = rng.integers(0, 3, (4, 3)).astype(float), rng.integers(0, 3, 3).astype(float)
    a = mt.Tensor(a_data, requires_grad=True)
    operator = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__",
                "ge": "__ge__"}[name]  # fmt: skip
    for other, other_data in [(mt.Tensor(b_data), b_data), (1.0, 1.0), (b_data, b_data)]:
        result = getattr(a, operator)(other)
        assert isinstance(result, mt.Tensor), f"a {operator} b gave {type(result)}"
        assert result.dtype == np.bool_ and not result.requires_grad and result.is_leaf
        np.testing.assert_array_equal(result.data, numpy_op(a_data, other_data))


def test_comparison_with_a_python_number_on_the_left():
    a = mt.Tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal((2.0 < a).data, [False, False, True])
    np.testing.assert_array_equal((2.0 == a).data, [False, True, False])


def test_a_mask_from_a_comparison_keeps_gradients_flowing():
    x = mt.Tensor([-1.0, 0.5, 2.0], requires_grad=True)
    (x * (x > 0)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0])


def test_tensors_still_work_as_dict_keys_and_in_sets():
    a, b = mt.Tensor([1.0]), mt.Tensor([1.0])
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b" and len({a, b, a}) == 2


def test_equality_of_two_multi_element_tensors_is_no_silent_bool():
    a, b = mt.Tensor([1.0, 2.0]), mt.Tensor([1.0, 3.0])
    with pytest.raises(ValueError, match="ambiguous"):
        bool(a == b)


# --- mixed float32 / float64 inputs ----------------------------------------------------------

MIXED = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "matmul": lambda a, b: a @ b,
    "maximum": mt.maximum,
    "pow": lambda a, b: a**b,
}


@pytest.mark.parametrize("name", sorted(MIXED))
@pytest.mark.parametrize("which_float32", [0, 1])
@pytest.mark.parametrize("constant", [None, 0, 1])
def test_mixed_dtypes_give_each_input_its_own_dtype(name, which_float32, constant):
    fn = MIXED[name]
    rng = np.random.default_rng(1)
    shapes = [(3, 4), (4, 2)] if name == "matmul" else [(3, 4), (4,)]
    data = [rng.uniform(0.5, 2.0, s) for s in shapes]
    dtypes = [np.float64, np.float64]
    dtypes[which_float32] = np.float32
    inputs = [
        mt.Tensor(d.astype(t), requires_grad=(i != constant))
        for i, (d, t) in enumerate(zip(data, dtypes, strict=True))
    ]
    upstream = rng.standard_normal(fn(*[mt.Tensor(d) for d in data]).shape)
    fn(*inputs).backward(upstream)
    reference = [mt.Tensor(x.data.astype(np.float64), requires_grad=True) for x in inputs]
    fn(*reference).backward(upstream)
    for i, (x, ref) in enumerate(zip(inputs, reference, strict=True)):
        if i == constant:
            assert x.grad is None
            continue
        assert x.grad.dtype == x.dtype, f"input {i}: gradient {x.grad.dtype}, input {x.dtype}"
        np.testing.assert_allclose(x.grad.data, ref.grad.data, rtol=1e-5)


def test_mixed_dtypes_under_create_graph():
    x32 = mt.Tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    c64 = mt.Tensor(np.array([2.0, 3.0]))
    (g,) = mt.grad((x32 * x32 * c64).sum(), [x32], create_graph=True)
    assert g.dtype == np.float32
    (h,) = mt.grad(g.sum(), [x32])
    np.testing.assert_allclose(h.data, 2 * c64.data)


def test_a_user_gradient_that_upcasts_is_still_reported():
    class UpcastingSquare(ops.Op):
        def compute(self, a):
            return a * a

        def gradient(self, out_grad, node):
            (a,) = node.inputs
            return (out_grad * a * mt.Tensor(np.float64(2.0)),)  # a float64 constant

    x = mt.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    with pytest.raises(
        mt.GradientError, match="UpcastingSquare.gradient\\(\\) returned dtype float64"
    ):
        UpcastingSquare()(x).sum().backward()


def test_constants_take_the_float_tensors_dtype_not_a_masks():
    x = mt.Tensor(np.array([1.0, -2.0], dtype=np.float32))
    assert (x * 2.0).dtype == np.float32 and (2.0 - x).dtype == np.float32
    mask = x > 0
    np.testing.assert_array_equal((mask * 2.5).data, [2.5, 0.0])
    assert mt.add(2, 3).dtype == np.float64
