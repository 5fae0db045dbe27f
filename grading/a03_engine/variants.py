"""Known-wrong variants of 03-engine: patches against each part's solution cell.

Each variant maps text of the solution cell (found exactly once) to what a student wrote
instead; it must lose its own part and no other.
"""

BY_HAND = "this part is done by hand"
# The reason a variant's verdict must give (default: "k of n test cases failed").
REASONS = {
    "delegates_to_library_tape": BY_HAND,
    "library_walk": BY_HAND,
    "engine_backward": BY_HAND,
    "engine_network": BY_HAND,
}
WALK_LEAVES = """            buffer.accumulate(tensor, grad)
            if tensor.is_leaf:
                leaves[tensor.slot] = tensor
    return [(leaf, buffer.pop(leaf)) for leaf in leaves.values()]"""
ACC = "leaf.grad = grad if leaf.grad is None else leaf.grad + grad"
SOLVED_TRACE = "    return records, buffers"
ENGINE_TRACE = """    leaves = {k: Tensor(v, requires_grad=k in needs_grad) for k, v in zip("wxb", (w, x, b))}
    z = mul(leaves["w"], leaves["x"])
    y = add(z, leaves["b"])
    y.backward(g)
    records = ["z = w * x", "y = z + b"] if z.requires_grad else ["y = z + b"]
    return records, buffers"""
ENGINE_NETWORK = """    X = [Tensor(v, requires_grad=True) for v in x]
    T = [[Tensor(A[k, m], requires_grad=True) for m in range(2)] for k in range(2)]
    Z = [tanh(mul(T[j][0], X[0])) for j in range(2)]
    mul(Z[0], Tensor(dz[0])).backward()
    return {"z": z, "dx": dx, "dA": dA, "da": da, "dB": dB, "dc": dc}"""

VARIANTS = {
    "add_operation": {
        "records_under_no_grad": {"    if not mytorch.is_grad_enabled():\n        return None\n": ""},
        "records_constants": {"    if not any(t.requires_grad for t in inputs):\n        return None\n": ""},
        "needs_every_input": {"not any(t.requires_grad for t in inputs)": "not all(t.requires_grad for t in inputs)"},
        "first_input_only": {"not any(t.requires_grad for t in inputs)": "not inputs[0].requires_grad"},
        "never_appended": {"return tape.append(Operation.new(op, inputs, output))": "return Operation.new(op, inputs, output)"},
        "inputs_reversed": {"Operation.new(op, inputs, output)": "Operation.new(op, inputs[::-1], output)"},
        "delegates_to_library_tape": {"return tape.append(Operation.new(op, inputs, output))": "mytorch.use_engine()  # the library's engine from now on\n    return tape.add_operation(op, inputs, output)"},
    },
    "memory_buffer": {
        "pointer_keyed": {"key = tensor.slot": "key = tensor.data.ctypes.data", "self.spots.get(tensor.slot)": "self.spots.get(tensor.data.ctypes.data)", "self.spots.pop(tensor.slot, None)": "self.spots.pop(tensor.data.ctypes.data, None)"},
        "id_keyed": {"key = tensor.slot": "key = id(tensor)", "self.spots.get(tensor.slot)": "self.spots.get(id(tensor))", "self.spots.pop(tensor.slot, None)": "self.spots.pop(id(tensor), None)"},
        "assign_instead_of_accumulate": {"self.spots[key] = self.spots[key] + grad": "self.spots[key] = grad"},
        "pop_never_frees": {"self.spots.pop(tensor.slot, None)": "self.spots.get(tensor.slot)"},
        "accumulates_in_place": {"self.spots[key] = self.spots[key] + grad": "self.spots[key].data += grad.data"},
    },
    "reverse_walk": {
        "walks_forward": {"for record in reversed(records):": "for record in records:"},
        "ignores_seed": {"buffer.accumulate(loss, seed)": "buffer.accumulate(loss, Tensor(np.ones_like(loss.data)))"},
        "never_frees_spots": {"out_grad = buffer.pop(record.output)": "out_grad = buffer.get(record.output)"},
        "overwrites_leaf_gradients": {WALK_LEAVES: """            if tensor.is_leaf:
                leaves[tensor.slot] = (tensor, grad)
            else:
                buffer.accumulate(tensor, grad)
    return list(leaves.values())""", "    leaves = {loss.slot: loss} if loss.is_leaf else {}\n": "    leaves = {}\n"},
        "gradients_for_constants": {"if grad is None or not tensor.requires_grad:": "if grad is None:"},
        "sets_grad": {"                leaves[tensor.slot] = tensor\n": "                leaves[tensor.slot] = tensor\n                tensor.grad = grad\n"},
        "library_walk": {"    buffer.accumulate(loss, seed)\n": "    return mytorch.autograd.reverse_walk(loss, seed)\n    buffer.accumulate(loss, seed)\n"},
    },
    "accumulate_and_zero_grad": {
        "assign_instead_of_accumulate": {ACC: "leaf.grad = grad"},
        "accumulates_in_place": {ACC: "leaf.grad = grad if leaf.grad is None else leaf.grad\n        if leaf.grad is not grad:\n            leaf.grad.data += grad.data"},
        "zero_grad_does_nothing": {"        t.grad = None": "        pass"},
        "seed_ignores_out_grad": {"        return out_grad if isinstance(out_grad, Tensor) else Tensor(out_grad)\n": "        return Tensor(np.ones_like(loss.data))\n"},
        "seed_without_check": {'        raise ValueError(f"loss has shape {loss.shape}: pass out_grad (same shape) to backward()")\n': "        pass\n"},
        "engine_backward": {"    for t in tensors:\n": "    mytorch.optim.SGD(list(tensors)).zero_grad()\n    for t in tensors:\n"},
    },
    "wx_plus_b_trace": {
        "records_everything": {"    records = [\"z = w * x\"] if z_recorded else []\n": "    records = [\"z = w * x\"]\n"},
        "spot_for_constants": {'    if "b" in needs_grad:\n        after_add["b"] = g\n': '    after_add["b"] = g\n'},
        "keeps_visited_spot": {'        after_mul = {k: v for k, v in after_add.items() if k != "z"}': "        after_mul = dict(after_add)"},
        "swapped_product_rule": {'after_mul["w"] = g * x': 'after_mul["w"] = g * w', 'after_mul["x"] = g * w': 'after_mul["x"] = g * x'},
        "engine_backward": {SOLVED_TRACE: ENGINE_TRACE},
    },
    "tanh_network_by_hand": {
        "assign_instead_of_accumulate": {"dy[k] += do[j] * B[j, k]": "dy[k] = do[j] * B[j, k]"},
        "assign_instead_of_accumulate_x": {"dx[m] += di[k] * A[k, m]": "dx[m] = di[k] * A[k, m]"},
        "forgets_output_tanh": {"do = dz * (1.0 - z**2)": "do = dz"},
        "forgets_hidden_tanh": {"di = dy * (1.0 - y**2)": "di = dy"},
        "transposed_weights": {"dB[j, k] = do[j] * y[k]": "dB[k, j] = do[j] * y[k]"},
        "engine_network": {"    return {\"z\": z, \"dx\": dx, \"dA\": dA, \"da\": da, \"dB\": dB, \"dc\": dc}": ENGINE_NETWORK},
    },
    "dynamic_graph": {
        "fixed_number_of_steps": {"while abs(float(y.data)) < limit and steps < 6:": "while steps < 6:"},
        "one_step_too_few": {"steps < 6": "steps < 5"},
        "numpy_then_wrapped": {"y = add(mul(y, y), x)": "y = Tensor(y.data * y.data + x.data)"},
        "branch_ignored": {"while abs(float(y.data)) < limit and steps < 6:": "while abs(float(x.data)) < limit and steps < 6:"},
    },
}  # fmt: skip
