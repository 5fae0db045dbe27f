"""Known-wrong variants of 06-beyond-backprop: patches against each part's solution cell.

Each variant maps text of the solution cell (found exactly once) to what a student wrote
instead; it must lose its own part and no other.
"""

MUL = "return da * b + a * db"
HVP_LINE = "(g * Tensor(np.array(v, dtype=np.float64))).sum()"
NEWTON = "return x - np.linalg.solve(hessian(x), gradient(x))"

VARIANTS = {
    "dual_numbers": {
        "product_rule_one_term": {"self.dot * other.value + self.value * other.dot": "self.dot * other.value"},
        "quotient_sign_flip": {"- self.value * other.dot / other.value**2": "+ self.value * other.dot / other.value**2"},
        "cos_sign_flip": {"-math.sin(x.value) * x.dot": "math.sin(x.value) * x.dot"},
        "log_multiplies": {"x.dot / x.value": "x.dot * x.value"},
        "rsub_reversed": {"return lift(other) - self": "return self - lift(other)"},
        "seeds_every_input": {"1.0 if k == i else 0.0": "1.0"},
        "uses_the_library": {"    return out.value, out.dot": "    assert callable(mytorch.numerical_gradient)  # checked against the library\n    return out.value, out.dot"},
    },
    "tangent_rules": {
        "mul_one_term": {MUL: "return da * b"},
        "div_sign_flip": {"da / b - a * db / (b * b)": "da / b + a * db / (b * b)"},
        "cos_sign_flip": {"return -tangents[0] * node.inputs[0].sin()": "return tangents[0] * node.inputs[0].sin()"},
        "matmul_one_term": {"return da @ b + a @ db": "return da @ b"},
        "sum_drops_keepdims": {"tangents[0].sum(axis=self.axis, keepdims=self.keepdims)": "tangents[0].sum(axis=self.axis)"},
        "delegates_to_the_library": {"        return tangents[0] * (1.0 - node * node)": "        return mytorch.jvp(lambda t: t.tanh(), (node.inputs[0],), (tangents[0],))[1]"},
    },
    "jacobian_two_ways": {
        "columns_as_rows": {"np.stack(columns, axis=1)": "np.stack(columns, axis=0)"},
        "rows_as_columns": {"np.stack(rows, axis=0)": "np.stack(rows, axis=1)"},
        "extra_jvp_calls": {"[np.asarray(jvp(unit), dtype=np.float64) for": "[np.asarray((jvp(unit) + jvp(unit)) / 2, dtype=np.float64) for"},
    },
    "mode_cost": {
        "pass_is_a_product": {"sum(w_in * w_out for w_in, w_out in zip(widths[:-1], widths[1:]))": "math.prod(widths)"},
        "modes_swapped": {'widths[0] if mode == "forward" else widths[-1]': 'widths[-1] if mode == "forward" else widths[0]'},
        "ratio_inverted": {'jacobian_cost(widths, "forward") / jacobian_cost(widths, "reverse")': 'jacobian_cost(widths, "reverse") / jacobian_cost(widths, "forward")'},
        "tie_goes_forward": {'return "either"': 'return "forward"'},
    },
    "hvp": {
        "forgets_v": {HVP_LINE: "g.sum()"},
        "no_create_graph": {"[x], create_graph=True)": "[x])"},
        "forward_difference": {"(gradient(x + h * v) - gradient(x - h * v)) / (2 * h)": "(gradient(x + h * v) - gradient(x)) / h"},
        "hessian_forgot_product_rule": {" + 8 * b * x**2, -4 * b * x]": ", -4 * b * x]"},
        "hessian_mixed_sign": {"-4 * b * x], [-4 * b * x, 2 * b]": "4 * b * x], [4 * b * x, 2 * b]"},
        "delegates_to_the_library": {"    x = Tensor(np.array(x, dtype=np.float64), requires_grad=True)\n    (g,)": "    return mytorch.hvp(f, x, v).data\n    (g,)"},
    },
    "newton": {
        "steps_uphill": {NEWTON: "return x + np.linalg.solve(hessian(x), gradient(x))"},
        "gradient_step": {NEWTON: "return x - gradient(x)"},
        "diagonal_hessian": {NEWTON: "return x - gradient(x) / np.diag(hessian(x))"},
        "path_without_x0": {"    return np.array(path)": "    return np.array(path[1:])"},
    },
    "descent": {
        "model_without_half": {"d @ d / (2 * eps)": "d @ d / eps"},
        "minimizer_uphill": {"return x0 - eps * g0": "return x0 + eps * g0"},
        "robbins_monro_one_condition": {"return steps_sum_diverges and squares_sum_converges": "return steps_sum_diverges"},
        "sgd_counts_from_zero": {"range(1, steps + 1)": "range(steps)"},
        "sgd_uphill": {"x - step_size(t) * noisy_gradient(x)": "x + step_size(t) * noisy_gradient(x)"},
    },
}  # fmt: skip

# What the verdict on a variant must say (by default "test cases failed").
REASONS = {
    "delegates_to_the_library": "this part is done by hand",
    "uses_the_library": "this part is done by hand",
}
