"""Known-wrong variants of 04-tensor-gradients: patches against each part's solution cell.

Each variant maps text of the solution cell (found exactly once) to what a student wrote
instead; it must lose its own part and no other.
"""

MUL = "return out_grad * b, out_grad * a"
TANH = "return (out_grad * (1.0 - node * node),)"
SUM = "return (mytorch.broadcast_to(out_grad.reshape(with_ones), shape),)"
MATMUL = "return out_grad @ b.T, a.T @ out_grad"
BATCHED = "return sum_over_batch(grad_a, a.shape), sum_over_batch(grad_b, b.shape)"
ONES = "Tensor(np.ones(node.shape))"
# finite differences of compute() in place of the rule (correct to about 1e-10 only)
FD_MUL = """a, b = (t.data for t in node.inputs)
        h = 1e-6
        da = (self.compute(a + h, b) - self.compute(a - h, b)) / (2 * h)
        db = (self.compute(a, b + h) - self.compute(a, b - h)) / (2 * h)
        return out_grad * Tensor(da), out_grad * Tensor(db)"""
FD_TANH = """a, h = node.inputs[0].data, 1e-6
        return (out_grad * Tensor((self.compute(a + h) - self.compute(a - h)) / (2 * h)),)"""
FD_MATMUL = """a, b = (t.data for t in node.inputs)
        h = 1e-6

        def numerical(x, index):
            grad = np.zeros_like(x)
            for k in np.ndindex(x.shape):
                step = np.zeros_like(x)
                step[k] = h
                up = self.compute(*((a + step, b) if index == 0 else (a, b + step)))
                down = self.compute(*((a - step, b) if index == 0 else (a, b - step)))
                grad[k] = np.sum(out_grad.data * (up - down)) / (2 * h)
            return Tensor(grad)

        return numerical(a, 0), numerical(b, 1)"""

# Right values, but computed in numpy and wrapped in a fresh Tensor: not differentiable again.
NOT_BUILT = "not built from Tensor operations"
# The reason a variant's verdict must give (default: "k of n test cases failed").
REASONS = {"numpy_then_wrapped": NOT_BUILT, "complex_step": NOT_BUILT}

VARIANTS = {
    "elementwise_ops": {
        "returns_ones": {MUL: "return out_grad * 0.0 + 1.0, out_grad * 0.0 + 1.0"},
        "ignores_out_grad": {MUL: "return b * 1.0, a * 1.0"},
        "mul_not_swapped": {MUL: "return out_grad * a, out_grad * b"},
        "div_sign_flip": {"-out_grad * node / b": "out_grad * node / b"},
        "pow_forgot_log": {"out_grad * node * a.log()": "out_grad * node"},
        "finite_differences": {f"a, b = node.inputs\n        {MUL}": FD_MUL},
        "numpy_then_wrapped": {MUL: "return Tensor(out_grad.data * b.data), Tensor(out_grad.data * a.data)"},
    },
    "unary_ops": {
        "returns_ones": {"return (out_grad * node,)": "return (out_grad * 0.0 + 1.0,)"},
        "ignores_out_grad": {TANH: "return (1.0 - node * node,)"},
        "tanh_forgot_square": {TANH: "return (out_grad * (1.0 - node),)"},
        "relu_no_mask": {"return (out_grad * (node.inputs[0].data > 0),)": "return (out_grad,)"},
        "power_exponent_not_lowered": {"a ** (p - 1)": "a**p"},
        "log_multiplies": {"return (out_grad / node.inputs[0],)": "return (out_grad * node.inputs[0],)"},
        "finite_differences": {TANH: FD_TANH},
        "numpy_then_wrapped": {TANH: "return (Tensor(out_grad.data * (1.0 - node.data**2)),)"},
        "complex_step": {TANH: "a = node.inputs[0].data\n        return (out_grad * Tensor(np.imag(self.compute(a + 1e-30j)) / 1e-30),)"},
    },
    "shape_ops": {
        "returns_ones": {SUM: f"return ({ONES.replace('node.shape', 'shape')},)"},
        "sum_without_reshape": {SUM: "return (mytorch.broadcast_to(out_grad, shape),)"},
        "reshape_forgot": {"return (out_grad.reshape(node.inputs[0].shape),)": "return (out_grad,)"},
        "transpose_same_permutation": {"out_grad.permute(*[int(i) for i in inverse])": "out_grad.permute(*self.axes)"},
        "transpose_negative_axes": {"[axis % out_grad.ndim for axis in self.axes]": "self.axes"},
        "numpy_then_wrapped": {SUM: "return (Tensor(np.broadcast_to(out_grad.data.reshape(with_ones), shape).copy()),)"},
    },
    "unbroadcast": {
        "no_unbroadcast": {"    added = grad.ndim - len(shape)\n": "    return grad\n"},
        "forgot_stretched_axes": {"    if stretched:": "    if False:"},
        "sums_trailing_axes": {"grad.sum(axis=tuple(range(added)))": "grad.sum(axis=tuple(range(len(shape), grad.ndim)))"},
        "returns_ones": {"return (unbroadcast(out_grad, node.inputs[0].shape),)": "return (Tensor(np.ones(node.inputs[0].shape)),)"},
        "numpy_then_wrapped": {"return (unbroadcast(out_grad, node.inputs[0].shape),)": "return (Tensor(unbroadcast(out_grad, node.inputs[0].shape).data),)"},
    },
    "matmul": {
        "forgot_transpose": {MATMUL: "return out_grad @ b, a @ out_grad"},
        "wrong_order": {MATMUL: "return b.T @ out_grad, out_grad @ a.T"},
        "returns_ones": {MATMUL: "return Tensor(np.ones(a.shape)), Tensor(np.ones(b.shape))"},
        "ignores_out_grad": {MATMUL: f"return {ONES} @ b.T, a.T @ {ONES}"},
        "finite_differences": {f"a, b = node.inputs\n        {MATMUL}": FD_MATMUL},
        "numpy_then_wrapped": {MATMUL: "return Tensor(out_grad.data @ b.data.T), Tensor(a.data.T @ out_grad.data)"},
    },
    "batched_matmul": {
        "no_batch_sum": {BATCHED: "return grad_a, grad_b"},
        "transposes_every_axis": {"out_grad @ b.transpose(-1, -2)": "out_grad @ b.T", "a.transpose(-1, -2) @ out_grad": "a.T @ out_grad"},
        "sums_wrong_axis": {"grad = grad.sum(axis=0)": "grad = grad.sum(axis=-1)"},
        "returns_ones": {BATCHED: "return Tensor(np.ones(a.shape)), Tensor(np.ones(b.shape))"},
        "numpy_then_wrapped": {BATCHED: "return Tensor(sum_over_batch(grad_a, a.shape).data), Tensor(sum_over_batch(grad_b, b.shape).data)"},
    },
    "vector_rules": {
        "returns_ones": {"return out_grad * y, out_grad * x": "return np.ones_like(x), np.ones_like(y)"},
        "ignores_out_grad": {"return out_grad * y, out_grad * x": "return y, x"},
        "one_branch_only": {"return grad_x1 + grad_x2": "return grad_x1"},
        "matvec_transposed": {"np.outer(out_grad, x), W.T @ out_grad": "np.outer(x, out_grad), W @ out_grad"},
    },
    "jacobian_vjp": {
        "columns_instead_of_rows": {"for unit in np.eye(out_size)])": "for unit in np.eye(out_size)]).T"},
        "extra_vjp_calls": {"[vjp(unit) for unit": "[(vjp(unit) + vjp(unit)) / 2 for unit"},
        "softmax_jacobian_diagonal": {"np.diag(p) - np.outer(p, p)": "np.diag(p * (1 - p))"},
        "softmax_backward_diagonal": {"p * (out_grad - np.sum(out_grad * p, axis=-1, keepdims=True))": "out_grad * p * (1 - p)"},
        "softmax_backward_ignores_out_grad": {"(out_grad - np.sum(out_grad * p,": "(1.0 - np.sum(p,"},
    },
}  # fmt: skip
