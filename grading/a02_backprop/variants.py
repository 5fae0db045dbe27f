"""Known-wrong variants of 02-backprop: patches against each part's solution cell.

Each variant maps text of the solution cell (found exactly once) to what a student wrote
instead; it must lose its own part and no other.
"""

FD_HELPER = """def _fd(fn, args, i, h=1e-6):
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (fn(*up) - fn(*down)) / (2 * h)


def circuit_backward("""
FD_RETURN = "    return (f, *[dout * _fd({fn}, {args}, i) for i in range({n})])\n"
FD_OP = """        a, b = (t.data for t in node.inputs)
        da = (self.compute(a + 1e-6, b) - self.compute(a - 1e-6, b)) / 2e-6
        db = (self.compute(a, b + 1e-6) - self.compute(a, b - 1e-6)) / 2e-6
        return out_grad * da, out_grad * db
"""
MUL, DIV = "return out_grad * b, out_grad * a", "return out_grad / b, -out_grad * a / (b * b)"
MAX, SIG = (
    "return out_grad * a_wins, out_grad * (1.0 - a_wins)",
    "return (out_grad * node * (1.0 - node),)",
)
BACKWARD = "adjoint[parent] += adjoint[name] * derivative"
# Right values, but not a gradient the engine can differentiate again.
COMPLEX_MUL = """        a, b = (t.data for t in node.inputs)
        da = np.imag(self.compute(a + 1e-30j, b)) / 1e-30
        db = np.imag(self.compute(a, b + 1e-30j)) / 1e-30
        return out_grad * da, out_grad * db
"""
UNIT_STEP_MUL = """        a, b = (t.data for t in node.inputs)
        da = (self.compute(a + 1.0, b) - self.compute(a - 1.0, b)) / 2.0
        db = (self.compute(a, b + 1.0) - self.compute(a, b - 1.0)) / 2.0
        return out_grad * da, out_grad * db
"""
ENGINE_CIRCUIT = """    t = [Tensor(float(v), requires_grad=True) for v in (x, y, z, w)]
    out = 3.0 * (t[0] * t[1] + mytorch.maximum(t[2], t[3]))
    out.backward(dout)
    return (f, *[float(v.grad.data) for v in t])
"""
ENGINE_BACKWARD = """    tensors = {}
    for name in order:
        op, parents = graph[name]
        tensors[name] = (Tensor(values[name], requires_grad=True) if op == "input"
                         else getattr(mytorch, op)(*(tensors[p] for p in parents)))
    tensors[output].backward(seed, retain_grad=True)
    return {n: 0.0 if t.grad is None else float(t.grad.data) for n, t in tensors.items()}
"""
NOT_BUILT = "not built from Tensor operations"
BY_HAND = "this part is done by hand"
# The reason a variant's verdict must give (default: "k of n test cases failed").
REASONS = {
    "complex_step": NOT_BUILT,
    "unit_step_differences": NOT_BUILT,
    "numpy_then_wrapped": NOT_BUILT,
    "engine_backward": BY_HAND,
}

VARIANTS = {
    "gate_examples": {
        "returns_ones": {"return f, dx, dy, dz, dw": "return f, 1.0, 1.0, 1.0, 1.0"},
        "ignores_dout": {"dv3 = dout * 3.0": "dv3 = 3.0"},
        "engine_backward": {"    return f, dx, dy, dz, dw\n": ENGINE_CIRCUIT},
        "max_splits_instead_of_routing": {"dv2 if z > w else 0.0": "dv2 / 2", "dv2 if w > z else 0.0": "dv2 / 2"},
        "multiply_not_swapped": {"dw = du * x": "dw = du * w", "dx = du * w": "dx = du * x"},
        "off_by_1pct": {"dw = du * x": "dw = 1.01 * du * x"},
        "finite_differences": {
            "def circuit_backward(": FD_HELPER,
            "    return f, dx, dy, dz, dw\n": FD_RETURN.format(fn="lambda *v: 3.0 * (v[0] * v[1] + max(v[2], v[3]))", args="(x, y, z, w)", n=4),
            "    return y, dw, dx, db": "    f = y\n" + FD_RETURN.format(fn="lambda *v: math.exp(v[0] * v[1] + v[2])", args="(w, x, b)", n=3),
        },
    },
    "branching_examples": {
        "returns_ones": {"return f, dx, dy": "return f, 1.0, 1.0"},
        "assign_instead_of_accumulate": {"dx += dv1": "dx = dv1"},
        "assign_instead_of_accumulate_log": {"dx1 += dv3 / x1": "dx1 = dv3 / x1", "dx2 += dv4 * x1": "dx2 = dv4 * x1"},
        "ignores_dout": {"dx += dout / v1": "dx += 1 / v1", "dv1 += -dout * x": "dv1 += -x"},
        "sign_of_subtraction": {"dv5 = -dout": "dv5 = dout"},
        "engine_backward": {"    return f, dx, dy\n": "    t = [Tensor(float(v), requires_grad=True) for v in (x, y)]\n    (t[0] / (t[0] + t[1])).backward(dout)\n    return f, float(t[0].grad.data), float(t[1].grad.data)\n"},
        "off_by_1pct": {"dx1 += dv3 / x1": "dx1 += 1.01 * dv3 / x1", "dx1 += dv4 * x2": "dx1 += 1.01 * dv4 * x2"},
        "finite_differences": {
            "    return f, dx, dy\n": "    fn, h = (lambda a, b: a / (a + b)), 1e-6\n    dx = (fn(x + h, y) - fn(x - h, y)) / (2 * h)\n    dy = (fn(x, y + h) - fn(x, y - h)) / (2 * h)\n    return f, dout * dx, dout * dy\n",
            "    return y, dx1, dx2": "    fn, h = (lambda a, b: math.log(a) + a * b - math.sin(b)), 1e-6\n    dx1 = (fn(x1 + h, x2) - fn(x1 - h, x2)) / (2 * h)\n    dx2 = (fn(x1, x2 + h) - fn(x1, x2 - h)) / (2 * h)\n    return y, dout * dx1, dout * dx2\n",
        },
    },
    "multiply_divide_ops": {
        "returns_ones": {MUL: "return out_grad * 0.0 + 1.0, out_grad * 0.0 + 1.0"},
        "ignores_out_grad": {MUL: "return b * 1.0, a * 1.0"},
        "multiply_not_swapped": {MUL: "return out_grad * a, out_grad * b"},
        "divide_wrong_sign": {"-out_grad * a / (b * b)": "out_grad * a / (b * b)"},
        "divide_missing_square": {"-out_grad * a / (b * b)": "-out_grad * a / b"},
        "off_by_1pct": {"return out_grad / b,": "return 1.01 * out_grad / b,"},
        "finite_differences": {f"        a, b = node.inputs\n        {MUL}\n": FD_OP, f"        a, b = node.inputs\n        {DIV}": FD_OP},
        "unit_step_differences": {f"        a, b = node.inputs\n        {MUL}\n": UNIT_STEP_MUL},
        "complex_step": {f"        a, b = node.inputs\n        {MUL}\n": COMPLEX_MUL, f"        a, b = node.inputs\n        {DIV}": COMPLEX_MUL},
        "numpy_then_wrapped": {MUL: "return Tensor(out_grad.data * b.data), Tensor(out_grad.data * a.data)", DIV: "return Tensor(out_grad.data / b.data), Tensor(-out_grad.data * a.data / b.data**2)"},
    },
    "maximum_op": {
        "returns_ones": {MAX: "return out_grad * 0.0 + 1.0, out_grad * 0.0 + 1.0"},
        "ignores_out_grad": {MAX: "return Tensor(a_wins), Tensor(1.0 - a_wins)"},
        "routes_to_smaller": {"(a.data > b.data)": "(a.data < b.data)"},
        "splits_instead_of_routing": {MAX: "return out_grad * 0.5, out_grad * 0.5"},
        "finite_differences": {f"        a, b = node.inputs\n        a_wins = (a.data > b.data).astype(a.dtype)\n        {MAX}": FD_OP},
        "numpy_then_wrapped": {MAX: "return Tensor(out_grad.data * a_wins), Tensor(out_grad.data * (1.0 - a_wins))"},
    },
    "sigmoid_op": {
        "returns_ones": {SIG: "return (out_grad * 0.0 + 1.0,)"},
        "ignores_out_grad": {SIG: "return (node * (1.0 - node),)"},
        "sigma_only": {SIG: "return (out_grad * node,)"},
        "off_by_1pct": {SIG: "return (1.01 * out_grad * node * (1.0 - node),)"},
        "wrong_forward": {"np.exp(-a)": "np.exp(a)"},
        "finite_differences": {SIG: "a = node.inputs[0].data\n        return (out_grad * (self.compute(a + 1e-6) - self.compute(a - 1e-6)) / 2e-6,)"},
        "complex_step": {SIG: "a = node.inputs[0].data\n        return (out_grad * (np.imag(self.compute(a + 1e-30j)) / 1e-30),)"},
        "numpy_then_wrapped": {SIG: "s = node.data\n        return (Tensor(out_grad.data * s * (1.0 - s)),)"},
    },
    "topological_order": {
        "insertion_order": {"    place(output)\n    return order": "    place(output)\n    return [name for name in graph if name in placed]"},
        "no_visited_set": {"        if name in placed:\n            return\n": ""},
        "reversed": {"    return order": "    return order[::-1]"},
        "all_nodes": {"    place(output)\n": "    for name in graph:\n        place(name)\n"},
        "output_only": {"    place(output)\n    return order": "    return [output]"},
    },
    "backward_pass": {
        "returns_ones": {"    return adjoint": "    return {name: 1.0 for name in order}"},
        "assign_instead_of_accumulate": {BACKWARD: BACKWARD.replace("+=", "=")},
        "forward_order": {"in reversed(order)": "in order"},
        "ignores_seed": {"adjoint[output] = seed": "adjoint[output] = 1.0"},
        "off_by_1pct": {"adjoint[output] = seed": "adjoint[output] = 1.01 * seed"},
        "engine_backward": {"""    adjoint = {name: 0.0 for name in order}\n""": ENGINE_BACKWARD},
    },
}  # fmt: skip
