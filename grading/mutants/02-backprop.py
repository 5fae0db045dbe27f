"""Known-wrong solutions for assignment 02-backprop, one dict of variants per part.

Each value replaces the whole solution cell of its part (grade_id ``"<part>-solution"``).
Every variant must lose its own part and leave every other part's score untouched.
("missing transpose" and "no un-broadcast" do not apply here: no matmul, and both inputs of
every binary op have the same shape; they are exercised in Assignment 4.)
"""

_CIRCUIT_OK = """
def circuit_backward(x, y, z, w, dout=1.0):
    f = 3.0 * (x * y + max(z, w))
    dv = 3.0 * dout
    return f, dv * y, dv * x, (dv if z > w else 0.0), (dv if w > z else 0.0)
"""
_EXP_OK = """
def exp_affine_backward(w, x, b, dout=1.0):
    y = math.exp(w * x + b)
    return y, dout * y * x, dout * y * w, dout * y
"""
_RATIO_OK = """
def ratio_backward(x, y, dout=1.0):
    s = x + y
    return x / s, dout * y / s**2, -dout * x / s**2
"""
_LOG_OK = """
def log_example_backward(x1, x2, dout=1.0):
    y = math.log(x1) + x1 * x2 - math.sin(x2)
    return y, dout * (1.0 / x1 + x2), dout * (x1 - math.cos(x2))
"""
_MUL_OK = """
class Multiply(Op):
    def compute(self, a, b):
        return a * b

    def gradient(self, out_grad, node):
        a, b = node.inputs
        return out_grad * b, out_grad * a
"""
_DIV_OK = """
class Divide(Op):
    def compute(self, a, b):
        return a / b

    def gradient(self, out_grad, node):
        a, b = node.inputs
        return out_grad / b, -out_grad * a / (b * b)
"""


def _maximum(gradient_body: str) -> str:
    return (
        "\nclass Maximum(Op):\n    def compute(self, a, b):\n        return np.maximum(a, b)\n\n"
        "    def gradient(self, out_grad, node):\n        a, b = node.inputs\n" + gradient_body
    )


def _sigmoid(gradient_body: str, compute: str = "1.0 / (1.0 + np.exp(-a))") -> str:
    return (
        f"\nclass Sigmoid(Op):\n    def compute(self, a):\n        return {compute}\n\n"
        "    def gradient(self, out_grad, node):\n" + gradient_body
    )


_BACKWARD_TEMPLATE = """
def backward_pass(graph, order, values, output, seed=1.0):
    adjoint = {{name: 0.0 for name in order}}
    adjoint[output] = {seed}
    for name in {walk}:
        op, parents = graph[name]
        if op == "input":
            continue
        local = local_gradients(op, [values[p] for p in parents], values[name])
        for parent, derivative in zip(parents, local):
            adjoint[parent] {update} adjoint[name] * derivative
    return {result}
"""


def _backward(seed="seed", walk="reversed(order)", update="+=", result="adjoint") -> str:
    return _BACKWARD_TEMPLATE.format(seed=seed, walk=walk, update=update, result=result)


MUTANTS: dict[str, dict[str, str]] = {
    "gate_examples": {
        "returns_ones": """
def circuit_backward(x, y, z, w, dout=1.0):
    return 3.0 * (x * y + max(z, w)), 1.0, 1.0, 1.0, 1.0
"""
        + _EXP_OK,
        "ignores_dout": _CIRCUIT_OK.replace("dv = 3.0 * dout", "dv = 3.0") + _EXP_OK,
        "max_splits_instead_of_routing": _CIRCUIT_OK.replace(
            "(dv if z > w else 0.0), (dv if w > z else 0.0)", "dv / 2, dv / 2"
        )
        + _EXP_OK,
        "multiply_not_swapped": _CIRCUIT_OK
        + _EXP_OK.replace("dout * y * x, dout * y * w", "dout * y * w, dout * y * x"),
        "off_by_1pct": _CIRCUIT_OK + _EXP_OK.replace("dout * y * x", "1.01 * dout * y * x"),
        "finite_differences": """
def _fd(fn, args, i, h=1e-6):
    up = list(args)
    down = list(args)
    up[i] += h
    down[i] -= h
    return (fn(*up) - fn(*down)) / (2 * h)


def circuit_backward(x, y, z, w, dout=1.0):
    fn = lambda *v: 3.0 * (v[0] * v[1] + max(v[2], v[3]))
    args = (x, y, z, w)
    return (fn(*args), *[dout * _fd(fn, args, i) for i in range(4)])


def exp_affine_backward(w, x, b, dout=1.0):
    fn = lambda *v: math.exp(v[0] * v[1] + v[2])
    args = (w, x, b)
    return (fn(*args), *[dout * _fd(fn, args, i) for i in range(3)])
""",
    },
    "branching_examples": {
        "returns_ones": """
def ratio_backward(x, y, dout=1.0):
    return x / (x + y), 1.0, 1.0
"""
        + _LOG_OK,
        "assign_instead_of_accumulate": """
def ratio_backward(x, y, dout=1.0):
    v1 = x + y
    f = x / v1
    dx = dout / v1
    dv1 = -dout * x / v1**2
    dx = dv1
    dy = dv1
    return f, dx, dy
"""
        + _LOG_OK,
        "assign_instead_of_accumulate_log": _RATIO_OK
        + """
def log_example_backward(x1, x2, dout=1.0):
    y = math.log(x1) + x1 * x2 - math.sin(x2)
    dx1 = dout * x2
    dx2 = -dout * math.cos(x2)
    dx1 = dout / x1
    dx2 = dout * x1
    return y, dx1, dx2
""",
        "ignores_dout": _RATIO_OK.replace("dout * y", "y").replace("-dout * x", "-x") + _LOG_OK,
        "sign_of_subtraction": _RATIO_OK
        + _LOG_OK.replace("x1 - math.cos(x2)", "x1 + math.cos(x2)"),
        "off_by_1pct": _RATIO_OK
        + _LOG_OK.replace("dout * (1.0 / x1 + x2)", "1.01 * dout * (1.0 / x1 + x2)"),
        "finite_differences": """
def ratio_backward(x, y, dout=1.0):
    h = 1e-6
    fn = lambda a, b: a / (a + b)
    dx = (fn(x + h, y) - fn(x - h, y)) / (2 * h)
    dy = (fn(x, y + h) - fn(x, y - h)) / (2 * h)
    return fn(x, y), dout * dx, dout * dy


def log_example_backward(x1, x2, dout=1.0):
    h = 1e-6
    fn = lambda a, b: math.log(a) + a * b - math.sin(b)
    d1 = (fn(x1 + h, x2) - fn(x1 - h, x2)) / (2 * h)
    d2 = (fn(x1, x2 + h) - fn(x1, x2 - h)) / (2 * h)
    return fn(x1, x2), dout * d1, dout * d2
""",
    },
    "multiply_divide_ops": {
        "returns_ones": _MUL_OK.replace(
            "return out_grad * b, out_grad * a", "return out_grad * 0.0 + 1.0, out_grad * 0.0 + 1.0"
        )
        + _DIV_OK,
        "ignores_out_grad": _MUL_OK.replace(
            "return out_grad * b, out_grad * a", "return b * 1.0, a * 1.0"
        )
        + _DIV_OK,
        "multiply_not_swapped": _MUL_OK.replace(
            "return out_grad * b, out_grad * a", "return out_grad * a, out_grad * b"
        )
        + _DIV_OK,
        "divide_wrong_sign": _MUL_OK
        + _DIV_OK.replace("-out_grad * a / (b * b)", "out_grad * a / (b * b)"),
        "divide_missing_square": _MUL_OK
        + _DIV_OK.replace("-out_grad * a / (b * b)", "-out_grad * a / b"),
        "off_by_1pct": _MUL_OK + _DIV_OK.replace("out_grad / b,", "1.01 * out_grad / b,"),
        "finite_differences": """
class Multiply(Op):
    def compute(self, a, b):
        return a * b

    def gradient(self, out_grad, node):
        a, b = (t.data for t in node.inputs)
        h = 1e-6
        da = (self.compute(a + h, b) - self.compute(a - h, b)) / (2 * h)
        db = (self.compute(a, b + h) - self.compute(a, b - h)) / (2 * h)
        return out_grad * da, out_grad * db


class Divide(Op):
    def compute(self, a, b):
        return a / b

    def gradient(self, out_grad, node):
        a, b = (t.data for t in node.inputs)
        h = 1e-6
        da = (self.compute(a + h, b) - self.compute(a - h, b)) / (2 * h)
        db = (self.compute(a, b + h) - self.compute(a, b - h)) / (2 * h)
        return out_grad * da, out_grad * db
""",
    },
    "maximum_op": {
        "returns_ones": _maximum("        return out_grad * 0.0 + 1.0, out_grad * 0.0 + 1.0\n"),
        "ignores_out_grad": _maximum(
            "        m = (a.data > b.data).astype(a.dtype)\n"
            "        return Tensor(m), Tensor(1.0 - m)\n"
        ),
        "routes_to_smaller": _maximum(
            "        m = (a.data < b.data).astype(a.dtype)\n"
            "        return out_grad * m, out_grad * (1.0 - m)\n"
        ),
        "splits_instead_of_routing": _maximum("        return out_grad * 0.5, out_grad * 0.5\n"),
        "finite_differences": _maximum(
            "        h = 1e-6\n"
            "        x, y = a.data, b.data\n"
            "        da = (np.maximum(x + h, y) - np.maximum(x - h, y)) / (2 * h)\n"
            "        db = (np.maximum(x, y + h) - np.maximum(x, y - h)) / (2 * h)\n"
            "        return out_grad * da, out_grad * db\n"
        ),
    },
    "sigmoid_op": {
        "returns_ones": _sigmoid("        return (out_grad * 0.0 + 1.0,)\n"),
        "ignores_out_grad": _sigmoid("        return (node * (1.0 - node),)\n"),
        "sigma_only": _sigmoid("        return (out_grad * node,)\n"),
        "off_by_1pct": _sigmoid("        return (1.01 * out_grad * node * (1.0 - node),)\n"),
        "wrong_forward": _sigmoid(
            "        return (out_grad * node * (1.0 - node),)\n", compute="1.0 / (1.0 + np.exp(a))"
        ),
        "finite_differences": _sigmoid(
            "        a = node.inputs[0].data\n"
            "        h = 1e-6\n"
            "        d = (self.compute(a + h) - self.compute(a - h)) / (2 * h)\n"
            "        return (out_grad * d,)\n"
        ),
    },
    "topological_order": {
        "insertion_order": """
def topological_order(graph, output):
    needed = set()
    stack = [output]
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(graph[name][1])
    return [name for name in graph if name in needed]
""",
        "no_visited_set": """
def topological_order(graph, output):
    order = []

    def place(name):
        for parent in graph[name][1]:
            place(parent)
        order.append(name)

    place(output)
    return order
""",
        "reversed": """
def topological_order(graph, output):
    order = []
    placed = set()

    def place(name):
        if name in placed:
            return
        for parent in graph[name][1]:
            place(parent)
        placed.add(name)
        order.append(name)

    place(output)
    return order[::-1]
""",
        "all_nodes": """
def topological_order(graph, output):
    order = []
    placed = set()

    def place(name):
        if name in placed:
            return
        for parent in graph[name][1]:
            place(parent)
        placed.add(name)
        order.append(name)

    for name in graph:
        place(name)
    return order
""",
        "output_only": """
def topological_order(graph, output):
    return [output]
""",
    },
    "backward_pass": {
        "returns_ones": _backward(result="{name: 1.0 for name in order}"),
        "assign_instead_of_accumulate": _backward(update="="),
        "forward_order": _backward(walk="order"),
        "ignores_seed": _backward(seed="1.0"),
        "off_by_1pct": _backward(seed="1.01 * seed"),
    },
}
