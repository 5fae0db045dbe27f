"""Known-wrong solutions for assignment 01-derivatives, one dict of variants per part.

Each value replaces the whole solution cell of its part (grade_id ``"<part>-solution"``).
Every variant must lose its own part and leave every other part's score untouched.
"""

MUTANTS: dict[str, dict[str, str]] = {
    "forward_difference": {
        "returns_ones": """
def forward_difference(f, x, h=1e-6):
    return np.ones_like(np.asarray(x, dtype=np.float64))
""",
        "central_instead": """
def forward_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)
""",
        "backward_difference": """
def forward_difference(f, x, h=1e-6):
    return (f(x) - f(x - h)) / h
""",
        "forgets_dividing_by_h": """
def forward_difference(f, x, h=1e-6):
    return f(x + h) - f(x)
""",
        "off_by_1pct": """
def forward_difference(f, x, h=1e-6):
    return 1.01 * (f(x + h) - f(x)) / h
""",
    },
    "central_difference": {
        "returns_ones": """
def central_difference(f, x, h=1e-6):
    return np.ones_like(np.asarray(x, dtype=np.float64))
""",
        "forward_instead": """
def central_difference(f, x, h=1e-6):
    return (f(x + h) - f(x)) / h
""",
        "missing_factor_2": """
def central_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / h
""",
        "off_by_1pct": """
def central_difference(f, x, h=1e-6):
    return 0.99 * (f(x + h) - f(x - h)) / (2 * h)
""",
    },
    "numerical_gradient": {
        "returns_ones": """
def numerical_gradient(f, x, h=1e-5):
    return np.ones_like(x)
""",
        "forward_differences": """
def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    f0 = f(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        grad[idx] = (f(x) - f0) / h
        x[idx] = old
    return grad
""",
        "no_restore": """
def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        x[idx] += h
        f_plus = f(x)
        x[idx] -= 2 * h
        f_minus = f(x)
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad
""",
        "first_axis_only": """
def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    for i in range(len(x)):
        old = x[i].copy()
        x[i] = old + h
        f_plus = f(x)
        x[i] = old - h
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad
""",
        "off_by_1pct": """
def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = f(x)
        x[idx] = old - h
        f_minus = f(x)
        x[idx] = old
        grad[idx] = 1.01 * (f_plus - f_minus) / (2 * h)
    return grad
""",
        "wasteful_evaluations": """
def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        f(x)
        f(x)
        x[idx] = old + h
        f_plus = f(x)
        x[idx] = old - h
        f_minus = f(x)
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad
""",
    },
    "analytic_derivatives": {
        "returns_ones": """
def d_cube(x):
    return np.ones_like(np.asarray(x, dtype=np.float64))


def d_wiggle(x):
    return np.ones_like(np.asarray(x, dtype=np.float64))
""",
        "finite_differences": """
def d_cube(x):
    h = 1e-6
    return ((x + h) ** 3 - (x - h) ** 3) / (2 * h)


def d_wiggle(x):
    h = 1e-6
    return ((x + h) * np.sin((x + h) ** 2) - (x - h) * np.sin((x - h) ** 2)) / (2 * h)
""",
        "finite_differences_tuned": """
def d_cube(x):
    h = 1e-5 * np.maximum(1.0, np.abs(x))
    return ((x + h) ** 3 - (x - h) ** 3) / (2 * h)


def d_wiggle(x):
    h = 1e-6 / np.maximum(1.0, np.abs(x))
    return ((x + h) * np.sin((x + h) ** 2) - (x - h) * np.sin((x - h) ** 2)) / (2 * h)
""",
        "forgets_chain_rule": """
def d_cube(x):
    return 3.0 * x**2


def d_wiggle(x):
    return np.sin(x**2) + x * np.cos(x**2)
""",
        "forgets_product_rule": """
def d_cube(x):
    return 3.0 * x**2


def d_wiggle(x):
    return 2.0 * x**2 * np.cos(x**2)
""",
        "off_by_1pct": """
def d_cube(x):
    return 3.03 * x**2


def d_wiggle(x):
    return np.sin(x**2) + 2.0 * x**2 * np.cos(x**2)
""",
    },
    "grad_check": {
        "returns_ones": """
def grad_check(f, grad_f, x, h=1e-5):
    return 1.0
""",
        "forward_differences": """
def grad_check(f, grad_f, x, h=1e-5):
    analytic = np.asarray(grad_f(x), dtype=np.float64)
    numerical = np.zeros(x.shape)
    f0 = f(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        numerical[idx] = (f(x) - f0) / h
        x[idx] = old
    denominator = np.maximum(np.maximum(np.abs(analytic), np.abs(numerical)), 1e-12)
    return float(np.max(np.abs(analytic - numerical) / denominator))
""",
        "signed_error": """
def grad_check(f, grad_f, x, h=1e-5):
    analytic = np.asarray(grad_f(x), dtype=np.float64)
    numerical = numerical_gradient(f, x, h)
    denominator = np.maximum(np.maximum(np.abs(analytic), np.abs(numerical)), 1e-12)
    return float(np.max((analytic - numerical) / denominator))
""",
        "mean_not_max": """
def grad_check(f, grad_f, x, h=1e-5):
    analytic = np.asarray(grad_f(x), dtype=np.float64)
    numerical = numerical_gradient(f, x, h)
    denominator = np.maximum(np.maximum(np.abs(analytic), np.abs(numerical)), 1e-12)
    return float(np.mean(np.abs(analytic - numerical) / denominator))
""",
        "absolute_error": """
def grad_check(f, grad_f, x, h=1e-5):
    analytic = np.asarray(grad_f(x), dtype=np.float64)
    numerical = numerical_gradient(f, x, h)
    return float(np.max(np.abs(analytic - numerical)))
""",
        "off_by_1pct": """
def grad_check(f, grad_f, x, h=1e-5):
    analytic = np.asarray(grad_f(x), dtype=np.float64)
    numerical = numerical_gradient(f, x, h)
    denominator = np.maximum(np.maximum(np.abs(analytic), np.abs(numerical)), 1e-12)
    return 1.01 * float(np.max(np.abs(analytic - numerical) / denominator))
""",
        "no_restore": """
def grad_check(f, grad_f, x, h=1e-5):
    analytic = np.asarray(grad_f(x), dtype=np.float64)
    numerical = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        x[idx] += h
        f_plus = f(x)
        x[idx] -= 2 * h
        f_minus = f(x)
        numerical[idx] = (f_plus - f_minus) / (2 * h)
    denominator = np.maximum(np.maximum(np.abs(analytic), np.abs(numerical)), 1e-12)
    return float(np.max(np.abs(analytic - numerical) / denominator))
""",
    },
    "gradient_descent": {
        "returns_ones": """
def gradient_descent(grad_f, x0, lr, n_steps):
    return np.ones((n_steps + 1, len(x0)))
""",
        "ascent": """
def gradient_descent(grad_f, x0, lr, n_steps):
    x = np.array(x0, dtype=np.float64)
    path = [x]
    for _ in range(n_steps):
        x = x + lr * grad_f(x)
        path.append(x)
    return np.array(path)
""",
        "in_place_aliasing": """
def gradient_descent(grad_f, x0, lr, n_steps):
    x = np.array(x0, dtype=np.float64)
    path = [x]
    for _ in range(n_steps):
        x -= lr * grad_f(x)
        path.append(x)
    return np.array(path)
""",
        "missing_x0": """
def gradient_descent(grad_f, x0, lr, n_steps):
    x = np.array(x0, dtype=np.float64)
    path = []
    for _ in range(n_steps):
        x = x - lr * grad_f(x)
        path.append(x)
    return np.array(path)
""",
        "modifies_x0": """
def gradient_descent(grad_f, x0, lr, n_steps):
    path = [x0.copy()]
    for _ in range(n_steps):
        x0 -= lr * grad_f(x0)
        path.append(x0.copy())
    return np.array(path)
""",
        "off_by_1pct": """
def gradient_descent(grad_f, x0, lr, n_steps):
    x = np.array(x0, dtype=np.float64)
    path = [x]
    for _ in range(n_steps):
        x = x - 1.01 * lr * grad_f(x)
        path.append(x)
    return np.array(path)
""",
    },
}
