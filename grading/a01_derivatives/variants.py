"""Known-wrong variants of 01-derivatives: patches against each part's solution cell.

Each variant maps text of the solution cell (found exactly once) to what a student wrote
instead; it must lose its own part and no other.
"""

FWD, CEN = "(f(x + h) - f(x)) / h", "(f(x + h) - f(x - h)) / (2 * h)"
ONES = "np.ones_like(np.asarray(x, dtype=np.float64))"
CUBE, WIGGLE = "return 3.0 * x**2", "return np.sin(x**2) + 2.0 * x**2 * np.cos(x**2)"
FD_CUBE = "h = {h}\n    return ((x + h) ** 3 - (x - h) ** 3) / (2 * h)"
FD_WIGGLE = "h = {h}\n    return ((x + h) * np.sin((x + h) ** 2) - (x - h) * np.sin((x - h) ** 2)) / (2 * h)"
FORWARD_LOOP = {"x[idx] = original - h\n": "x[idx] = original\n", "/ (2 * h)": "/ h"}

# The reason a variant's verdict must give (default: "k of n test cases failed").
REASONS = {
    "library_gradient": "this part is done by hand",
    "engine_derivatives": "this part is done by hand",
}

VARIANTS = {
    "forward_difference": {
        "returns_ones": {FWD: ONES},
        "central_instead": {FWD: CEN},
        "backward_difference": {FWD: "(f(x) - f(x - h)) / h"},
        "forgets_dividing_by_h": {FWD: "f(x + h) - f(x)"},
        "off_by_1pct": {"return (": "return 1.01 * ("},
    },
    "central_difference": {
        "returns_ones": {CEN: ONES},
        "forward_instead": {CEN: FWD},
        "missing_factor_2": {"/ (2 * h)": "/ h"},
        "off_by_1pct": {"return (": "return 0.99 * ("},
    },
    "numerical_gradient": {
        "returns_ones": {"return grad": "return np.ones_like(x)"},
        "forward_differences": FORWARD_LOOP,
        "no_restore": {"        x[idx] = original\n        grad": "        grad"},
        "first_axis_only": {"np.ndindex(x.shape)": "range(len(x))"},
        "off_by_1pct": {"grad[idx] = (": "grad[idx] = 1.01 * ("},
        "library_gradient": {"    grad = np.zeros(x.shape, dtype=np.float64)\n": "    import mytorch\n\n    return mytorch.numerical_gradient(f, x, h)\n"},
        "wasteful_evaluations": {"original = x[idx]\n": "original = x[idx]\n        f(x)\n        f(x)\n"},
    },
    "analytic_derivatives": {
        "returns_ones": {CUBE: f"return {ONES}", WIGGLE: f"return {ONES}"},
        "finite_differences": {CUBE: FD_CUBE.format(h="1e-6"), WIGGLE: FD_WIGGLE.format(h="1e-6")},
        "finite_differences_tuned": {
            CUBE: FD_CUBE.format(h="1e-5 * np.maximum(1.0, np.abs(x))"),
            WIGGLE: FD_WIGGLE.format(h="1e-6 / np.maximum(1.0, np.abs(x))"),
        },
        "engine_derivatives": {CUBE: "import mytorch\n\n    t = mytorch.Tensor(x, requires_grad=True)\n    (t**3).sum().backward()\n    return t.grad.data"},
        "forgets_chain_rule": {"+ 2.0 * x**2 * np.cos": "+ x * np.cos"},
        "forgets_product_rule": {"np.sin(x**2) + 2.0": "2.0"},
        "off_by_1pct": {"3.0 * x**2": "3.03 * x**2"},
    },
    "grad_check": {
        "returns_ones": {"return float(np.max(np.abs(analytic - numerical) / denominator))": "return 1.0"},
        "forward_differences": FORWARD_LOOP,
        "signed_error": {"np.max(np.abs(analytic - numerical) /": "np.max((analytic - numerical) /"},
        "mean_not_max": {"float(np.max(": "float(np.mean("},
        "absolute_error": {"np.abs(analytic - numerical) / denominator": "np.abs(analytic - numerical)"},
        "off_by_1pct": {"return float(": "return 1.01 * float("},
        "no_restore": {"        x[idx] = original\n        numerical": "        numerical"},
    },
    "gradient_descent": {
        "returns_ones": {"return np.array(path)": "return np.ones((n_steps + 1, len(x0)))"},
        "ascent": {"x = x - lr": "x = x + lr"},
        "in_place_aliasing": {"x = x - lr": "x -= lr"},
        "missing_x0": {"path = [x]": "path = []"},
        "modifies_x0": {
            "x = np.array(x0, dtype=np.float64)": "x = x0",
            "x = x - lr": "x -= lr",
            "path = [x]": "path = [x.copy()]",
            "path.append(x)": "path.append(x.copy())",
        },
        "off_by_1pct": {"x = x - lr": "x = x - 1.01 * lr"},
    },
}  # fmt: skip
