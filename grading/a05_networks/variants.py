"""Known-wrong variants of 05-networks: patches against each part's solution cell.

Each variant maps text of the solution cell (found exactly once) to what a student wrote
instead; it must lose its own part and no other.
"""

AFFINE = "return dA @ W.T, X.T @ dA, dA.sum(axis=0)"
LOGISTIC = """small = np.exp(-np.abs(A))  # never overflows
    return np.where(A >= 0, 1.0 / (1.0 + small), small / (1.0 + small))"""
CROSS_ENTROPY = "return -np.sum(T * log_P) / m, (np.exp(log_P) - T) / m"
LOGREG = "return np.outer(error, x), error, W.T @ error"
SKIP = "return delta + W1.T @ through_relu"
ADJOINT_V5 = "bar_v5 = bar_v6 * v6 * (1.0 - v6)"
STEP = "v *= self.momentum"
# The whole network handed to the engine: right numbers, but this part is done by hand.
ENGINE_NETWORK = """import mytorch
    from mytorch.nn.functional import cross_entropy
    weights = [mytorch.Tensor(w, requires_grad=True) for w in (W1, b1, W2, b2)]
    hidden = mytorch.relu(mytorch.Tensor(X) @ weights[0] + weights[1])
    decay = (weights[0] * weights[0]).sum() + (weights[2] * weights[2]).sum()
    loss = cross_entropy(hidden @ weights[2] + weights[3], T.argmax(axis=1)) + lam / 2 * decay
    loss.backward()
    return (loss.item(), *(w.grad.data for w in weights))
    m = X.shape[0]"""

VARIANTS = {
    "units": {
        "returns_ones": {AFFINE: "return np.ones_like(X), np.ones_like(W), np.ones(W.shape[1])"},
        "bias_gradient_mean": {AFFINE: "return dA @ W.T, X.T @ dA, dA.mean(axis=0)"},
        "logistic_overflows": {LOGISTIC: "return np.exp(A) / (1.0 + np.exp(A))"},
        "logistic_ignores_out_grad": {"return dY * Y * (1.0 - Y)": "return Y * (1.0 - Y)"},
        "relu_mask_flipped": {"return dZ * (A > 0)": "return dZ * (A < 0)"},
        "decay_gradient_doubled": {"[dR * lam * W for W in Ws]": "[2 * dR * lam * W for W in Ws]"},
        "add_no_unbroadcast": {"return sum_to(dC, a_shape), sum_to(dC, b_shape)": "return dC, dC"},
    },
    "stable_losses": {
        "unstable_log_sum_exp": {"shifted = Z - Z.max(axis=1, keepdims=True)": "shifted = Z"},
        "forgot_the_mean": {CROSS_ENTROPY: "return -np.sum(T * log_P) / m, np.exp(log_P) - T"},
        "gradient_without_targets": {CROSS_ENTROPY: "return -np.sum(T * log_P) / m, np.exp(log_P) / m"},
        "naive_log1p_exp": {"return np.maximum(-x, 0.0) + np.log1p(np.exp(-np.abs(x)))": "return np.log(1.0 + np.exp(-x))"},
        "log1p_exp_forgot_max": {"np.maximum(-x, 0.0) + ": ""},
    },
    "logreg_and_skip": {
        "sign_flipped": {LOGREG: "return -np.outer(error, x), -error, -W.T @ error"},
        "weight_gradient_transposed": {LOGREG: "return np.outer(x, error), error, W.T @ error"},
        "input_gradient_without_transpose": {LOGREG: "return np.outer(error, x), error, W @ error"},
        "skip_forgot_identity": {SKIP: "return W1.T @ through_relu"},
        "skip_no_relu_mask": {"(W2.T @ delta) * (W1 @ x > 0)": "W2.T @ delta"},
    },
    "two_layer_by_hand": {
        "no_decay_in_gradient": {"dW1, dW2 = lam * W1, lam * W2": "dW1, dW2 = 0 * W1, 0 * W2"},
        "forgot_the_mean": {"dA2 = (np.exp(log_Y) - T) / m": "dA2 = np.exp(log_Y) - T"},
        "no_relu_mask": {"dA1 = dZ * (A1 > 0)": "dA1 = dZ"},
        "overwrites_decay_gradient": {"dW2 += Z.T @ dA2": "dW2 = Z.T @ dA2"},
        "bias_sums_columns": {"db2 = dA2.sum(axis=0)": "db2 = dA2.sum(axis=1)"},
        "decays_the_biases": {"db2 = dA2.sum(axis=0)": "db2 = dA2.sum(axis=0) + lam * b2",
                              "db1 = dA1.sum(axis=0)": "db1 = dA1.sum(axis=0) + lam * b1"},
        "uses_the_engine": {"m = X.shape[0]": ENGINE_NETWORK},
    },
    "sigmoid_net_adjoints": {
        "sigma_instead_of_its_derivative": {ADJOINT_V5: "bar_v5 = bar_v6 * v6"},
        "w2_gradient_transposed": {"bar_v3 = v6.T @ bar_v7": "bar_v3 = (v6.T @ bar_v7).T"},
        "forgot_minus_e_y": {"bar_v7[0, y] -= 1.0  # softmax(v7) - e_y": "pass"},
        "returns_ones": {'"v1": bar_v5 @ W1.T}': '"v1": np.ones_like(x)}'},
    },
    "linear_and_sgd": {
        "momentum_sign": {STEP: "v *= -self.momentum"},
        "momentum_ignored": {STEP: "v *= 0.0"},
        "weight_decay_ignored": {"g = p.grad.data + self.weight_decay * p.data": "g = p.grad.data"},
        "zero_grad_keeps_gradients": {"            p.grad = None\n": "            pass\n"},
        "bias_not_a_parameter": {"self.bias = nn.Parameter(": "self.bias = Tensor("},
        "weight_transposed": {"x @ self.weight + self.bias": "x @ self.weight.T + self.bias"},
    },
    "train_digits": {
        "forgets_zero_grad": {"    optimizer.zero_grad()\n": ""},
        "never_steps": {"    optimizer.step()\n": ""},
        "no_backward": {"    loss.backward()\n": ""},
        "one_batch_per_epoch": {"range(0, len(X), batch_size)": "range(0, batch_size, batch_size)"},
    },
}  # fmt: skip

# What the verdict on a variant must say (default: "test cases failed").
REASONS = {"uses_the_engine": "this part is done by hand"}
