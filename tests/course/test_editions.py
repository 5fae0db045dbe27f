"""Every assignment's student edition: it imports, holds no answer to an exercise of that
assignment or a later one (each stripped piece fails naming its assignment), and the released
notebook runs top to bottom against it."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from test_student_edition import run_in

from mytorch_course.course_dir import assignment_ids, release_notebooks
from mytorch_course.figures import FIGURES, render_figures
from mytorch_course.notebook import nbgrader_meta
from mytorch_course.samples import solved
from mytorch_course.student_edition import (
    ASSIGNMENT_ID,
    BEGIN,
    END,
    build_student_edition,
    exercise_message,
)

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "mytorch"
ASSIGNMENTS = assignment_ids(REPO)


def regions(text: str) -> list[tuple[list[str], str]]:
    """(assignments, body) of every exercise region of a source file."""
    found, owners, body = [], None, []
    for line in text.splitlines(keepends=True):
        if BEGIN.match(line):
            owners, body = ASSIGNMENT_ID.findall(line), []
        elif END.match(line):
            found.append((owners, "".join(body)))
            owners = None
        elif owners is not None:
            body.append(line)
    return found


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def edition(request, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp(f"edition-{request.param}")
    build_student_edition(folder, request.param)
    return request.param, folder


def test_no_open_exercise_survives_in_the_edition(edition) -> None:
    aid, folder = edition
    checked = 0
    for source in PACKAGE.rglob("*.py"):
        relative = source.relative_to(PACKAGE)
        text = (folder / "mytorch" / relative).read_text()
        assert "BEGIN EXERCISE" not in text, relative
        for owners, body in regions(source.read_text()):
            open_ones = sorted(o for o in owners if o >= aid)
            if open_ones:
                checked += 1
                assert body not in text, f"{relative}: the answer of {owners} is in edition {aid}"
                assert exercise_message(open_ones[0], aid) in text, relative
            else:
                assert body in text, f"{relative}: closed exercise {owners} missing from {aid}"
    # every op's gradient and tangent, the engine, the numerical gradient; from assignment 5
    # on the gradients and the engine are closed, and the tangents are what is left out
    assert checked >= (60 if aid < "05" else 20)


# What each stripped piece says when called in an edition (None: it works there).
PROBE = """
import json, numpy as np, mytorch as mt
from mytorch import Tensor
results = {}
def attempt(name, call):
    try:
        call()
        results[name] = None
    except NotImplementedError as e:
        results[name] = str(e)
attempt("numerical_gradient", lambda: mt.numerical_gradient(lambda v: float(v.sum()), [1.0]))
def sgd():
    p = Tensor([1.0]); p.grad = Tensor([1.0]); mt.optim.SGD([p], lr=0.1).step()
attempt("SGD.step", sgd)
attempt("recording", lambda: Tensor([1.0], requires_grad=True) * 2.0)
buffer = mt.MemoryBuffer()
attempt("MemoryBuffer", lambda: buffer.accumulate(0, Tensor(1.0)))
for op, args in [(mt.ops.Mul(), (2.0, 3.0)), (mt.ops.Div(), (2.0, 3.0)),
                 (mt.ops.Maximum(), (2.0, 3.0)), (mt.ops.Sigmoid(), (0.5,)),
                 (mt.ops.Add(), (2.0, 3.0)), (mt.ops.Tanh(), (0.5,))]:
    attempt(f"{type(op).__name__}.gradient",
            lambda: mt.op_gradients(op, *args, out_grad=1.0))
    node = mt.apply_op(op, *args)
    attempt(f"{type(op).__name__}.tangent",
            lambda: op.tangent(tuple(Tensor(1.0) for _ in args), node))
print(json.dumps(results))
"""
# The assignments that ask for each piece: it is left out while any of them is open.
OWNERS = {
    "numerical_gradient": ("01-derivatives",),
    "SGD.step": ("01-derivatives",),
    "recording": ("03-engine",),
    "MemoryBuffer": ("03-engine",),
    **{
        f"{op}.gradient": ("02-backprop", "04-tensor-gradients")
        for op in ("Mul", "Div", "Maximum", "Sigmoid")
    },
    **{f"{op}.gradient": ("04-tensor-gradients",) for op in ("Add", "Tanh")},
    **{
        f"{op}.tangent": ("06-beyond-backprop",)
        for op in ("Mul", "Div", "Maximum", "Sigmoid", "Add", "Tanh")
    },
}


def test_the_edition_imports_and_each_stripped_piece_names_its_assignment(edition) -> None:
    aid, folder = edition
    result = run_in(folder, PROBE)
    assert result.returncode == 0, result.stderr
    said = json.loads(result.stdout)
    assert set(said) == set(OWNERS)
    for name, owners in OWNERS.items():
        still_open = [o for o in owners if o >= aid]
        if not still_open:
            assert said[name] is None, f"{name} (closed, {owners}) fails in edition {aid}"
        else:
            owner = still_open[0]
            assert said[name] == exercise_message(owner, aid), (name, said[name])
            assert said[name].startswith(f"This is an exercise of assignment {owner}")


# ------------------------------------------------------------------ notebooks, top to bottom


def run_notebook(nb: nbformat.NotebookNode, folder: Path, edition: Path) -> list[tuple[int, str]]:
    """Run ``nb`` in ``folder`` with ``edition``'s mytorch; (cell index, error name) per error."""
    env = dict(os.environ, PYTHONPATH=str(edition))
    client = NotebookClient(
        nb,
        timeout=300,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute(env=env)
    errors = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append((index, output["ename"]))
    return errors


def imported_mytorch(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_released_notebook_runs_top_to_bottom_against_its_edition(aid, tmp_path) -> None:
    edition = tmp_path / "edition"
    build_student_edition(edition, aid)
    release = REPO / "assignments" / aid
    cases = {"solved": solved(REPO, aid), "release": release_notebooks(REPO, aid)}
    for case, notebooks in cases.items():
        for name, nb in notebooks.items():
            folder = tmp_path / case
            shutil.copytree(release, folder, dirs_exist_ok=True)
            where = nbformat.v4.new_code_cell("import mytorch; print('MYTORCH', mytorch.__file__)")
            nb.cells.insert(0, where)
            errors = run_notebook(nb, folder, edition)
            assert f"MYTORCH {edition}" in imported_mytorch(nb), "the kernel used another mytorch"
            if case == "solved":
                assert errors == [], f"{name}: errors in cells {errors}"
                continue
            exercise_cells = {
                i
                for i, cell in enumerate(nb.cells)
                if nbgrader_meta(cell).get("solution") or nbgrader_meta(cell).get("grade")
            }
            outside = [(i, e) for i, e in errors if i not in exercise_cells]
            assert errors and not outside, f"{name}: errors outside exercise cells: {outside}"
            figures = [
                o
                for c in nb.cells
                for o in c.get("outputs", [])
                if "image/svg+xml" in o.get("data", {})
            ]
            if (release / "figures").is_dir():  # engine demos drawn in advance
                assert figures, "the engine's pre-rendered figures were not shown"


# ------------------------------------------------------------------ delegating to the library

# Solution cells that hand the work to a library name: with the full library each is a
# working answer (checked below), so only the edition stands between them and the points.
DELEGATING = {
    "01-derivatives": {
        "central_difference-solution": """
import mytorch


def central_difference(f, x, h=1e-6):
    return mytorch.numerical_gradient(lambda v: float(np.sum(f(v))), np.array(x, dtype=float), h)
""",
        "numerical_gradient-solution": """
import mytorch


def numerical_gradient(f, x, h=1e-5):
    return mytorch.numerical_gradient(f, x, h)
""",
        "analytic_derivatives-solution": """
import mytorch


def d_cube(x):
    t = mytorch.Tensor(np.array(x, dtype=float), requires_grad=True)
    (t * t * t).sum().backward()
    return t.grad.data


def d_wiggle(x):
    t = mytorch.Tensor(np.array(x, dtype=float), requires_grad=True)
    (t * mytorch.sin(t * t)).sum().backward()
    return t.grad.data
""",
        "grad_check-solution": """
import mytorch


def grad_check(f, grad_f, x, h=1e-5):
    numerical = mytorch.numerical_gradient(f, x, h)
    analytic = np.asarray(grad_f(x), dtype=float)
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numerical)), 1e-12)
    return float(np.max(np.abs(analytic - numerical) / scale))
""",
        "gradient_descent-solution": """
import mytorch


def gradient_descent(grad_f, x0, lr, n_steps):
    p = mytorch.Tensor(np.array(x0, dtype=float))
    optimizer = mytorch.optim.SGD([p], lr=lr)
    path = [p.data.copy()]
    for _ in range(n_steps):
        p.grad = mytorch.Tensor(np.asarray(grad_f(p.data.copy()), dtype=float))
        optimizer.step()
        path.append(p.data.copy())
    return np.array(path)
""",
    },
    "02-backprop": {
        "gate_examples-solution": """
def circuit_backward(x, y, z, w, dout=1.0):
    t = [mytorch.Tensor(v, requires_grad=True) for v in (x, y, z, w)]
    f = 3.0 * (t[0] * t[1] + mytorch.maximum(t[2], t[3]))
    f.backward(np.array(dout))
    return (f.item(), *[v.grad.item() for v in t])


def exp_affine_backward(w, x, b, dout=1.0):
    t = [mytorch.Tensor(v, requires_grad=True) for v in (w, x, b)]
    y = mytorch.exp(t[0] * t[1] + t[2])
    y.backward(np.array(dout))
    return (y.item(), *[v.grad.item() for v in t])
""",
        "branching_examples-solution": """
def ratio_backward(x, y, dout=1.0):
    t = [mytorch.Tensor(v, requires_grad=True) for v in (x, y)]
    f = t[0] / (t[0] + t[1])
    f.backward(np.array(dout))
    return (f.item(), *[v.grad.item() for v in t])


def log_example_backward(x1, x2, dout=1.0):
    t = [mytorch.Tensor(v, requires_grad=True) for v in (x1, x2)]
    y = mytorch.log(t[0]) + t[0] * t[1] - mytorch.sin(t[1])
    y.backward(np.array(dout))
    return (y.item(), *[v.grad.item() for v in t])
""",
        "multiply_divide_ops-solution": """
class Multiply(mytorch.ops.Mul):
    pass


class Divide(mytorch.ops.Div):
    pass
""",
        "maximum_op-solution": """
class Maximum(mytorch.ops.Maximum):
    pass
""",
        "sigmoid_op-solution": """
class Sigmoid(mytorch.ops.Sigmoid):
    pass
""",
        "backward_pass-solution": """
def backward_pass(graph, order, values, output, seed=1.0):
    gates = {"add": mytorch.add, "sub": mytorch.sub, "mul": mytorch.mul, "neg": mytorch.neg,
             "exp": mytorch.exp, "log": mytorch.log, "sin": mytorch.sin, "cos": mytorch.cos}
    made = {}
    for name in order:
        op, parents = graph[name]
        if op == "input":
            made[name] = mytorch.Tensor(values[name], requires_grad=True)
        else:
            made[name] = gates[op](*[made[p] for p in parents])
    made[output].backward(np.array(seed), retain_grad=True)
    return {n: 0.0 if t.grad is None else t.grad.item() for n, t in made.items()}
""",
    },
    "03-engine": {
        "add_operation-solution": """
def add_operation(tape, op, inputs, output):
    mytorch.use_engine()  # the library's engine from here on
    return tape.add_operation(op, inputs, output)
""",
        "memory_buffer-solution": """
class MemoryBuffer(mytorch.MemoryBuffer):
    def accumulate(self, tensor, grad):
        super().accumulate(tensor.slot, grad)

    def get(self, tensor):
        return self.spots.get(tensor.slot)

    def pop(self, tensor):
        return super().pop(tensor.slot)
""",
        "reverse_walk-solution": """
def reverse_walk(records, loss, seed, buffer):
    return mytorch.autograd.reverse_walk(loss, seed)
""",
    },
    "04-tensor-gradients": {
        "elementwise_ops-solution": """
class Add(mytorch.ops.Add):
    pass


class Mul(mytorch.ops.Mul):
    pass


class Div(mytorch.ops.Div):
    pass


class Pow(mytorch.ops.Pow):
    pass
""",
        "unary_ops-solution": """
class PowerScalar(mytorch.ops.PowerScalar):
    pass


class Exp(mytorch.ops.Exp):
    pass


class Log(mytorch.ops.Log):
    pass


class Tanh(mytorch.ops.Tanh):
    pass


class ReLU(mytorch.ops.ReLU):
    pass
""",
        "shape_ops-solution": """
class Sum(mytorch.ops.Sum):
    pass


class Reshape(mytorch.ops.Reshape):
    pass


class Transpose(mytorch.ops.Transpose):
    pass
""",
        "unbroadcast-solution": """
def unbroadcast(grad, shape):
    return mytorch.unbroadcast(grad, shape)


class BroadcastTo(mytorch.ops.BroadcastTo):
    pass
""",
        "matmul-solution": """
class MatMul(mytorch.ops.MatMul):
    pass
""",
        "batched_matmul-solution": """
def sum_over_batch(grad, shape):
    return mytorch.unbroadcast(grad, shape)


class BatchedMatMul(mytorch.ops.MatMul):
    pass
""",
        "vector_rules-solution": """
def _engine_gradients(f, *arrays, out_grad):
    inputs = [mytorch.Tensor(np.array(a, dtype=float), requires_grad=True) for a in arrays]
    f(*inputs).backward(np.array(out_grad, dtype=float))
    return tuple(t.grad.data for t in inputs)


def dot_backward(x, y, out_grad):
    return _engine_gradients(lambda a, b: (a * b).sum(), x, y, out_grad=out_grad)


def square_norm_backward(x, out_grad):
    return _engine_gradients(lambda a: (a * a).sum(), x, out_grad=out_grad)[0]


def matvec_backward(W, x, out_grad):
    return _engine_gradients(lambda w, v: w @ v, W, x, out_grad=out_grad)
""",
    },
    "05-networks": {
        "two_layer_by_hand-solution": """
import mytorch
from mytorch.nn.functional import cross_entropy


def two_layer_backward(X, T, W1, b1, W2, b2, lam):
    weights = [mytorch.Tensor(w, requires_grad=True) for w in (W1, b1, W2, b2)]
    hidden = mytorch.relu(mytorch.Tensor(X) @ weights[0] + weights[1])
    decay = (weights[0] * weights[0]).sum() + (weights[2] * weights[2]).sum()
    loss = cross_entropy(hidden @ weights[2] + weights[3], T.argmax(axis=1)) + lam / 2 * decay
    loss.backward()
    return (loss.item(), *(w.grad.data for w in weights))
""",
        "linear_and_sgd-solution": """
class Linear(mytorch.nn.Linear):
    pass


class SGD(mytorch.optim.SGD):
    pass
""",
    },
    "06-beyond-backprop": {
        "tangent_rules-solution": """
class Add(mytorch.ops.Add):
    pass


class Sub(mytorch.ops.Sub):
    pass


class Mul(mytorch.ops.Mul):
    pass


class Div(mytorch.ops.Div):
    pass


class Exp(mytorch.ops.Exp):
    pass


class Log(mytorch.ops.Log):
    pass


class Sin(mytorch.ops.Sin):
    pass


class Cos(mytorch.ops.Cos):
    pass


class Tanh(mytorch.ops.Tanh):
    pass


class PowerScalar(mytorch.ops.PowerScalar):
    pass


class Sum(mytorch.ops.Sum):
    pass


class MatMul(mytorch.ops.MatMul):
    pass
""",
        "hvp-solution": """
def hvp(f, x, v):
    return mytorch.hvp(f, np.array(x, dtype=float), np.array(v, dtype=float)).data


def hvp_differences(f, x, v, h=1e-5):
    return hvp(f, x, v)


def rosenbrock_hessian(x, y, a=1.0, b=100.0):
    def f(t):
        return (a - t[0]) ** 2 + b * (t[1] - t[0] ** 2) ** 2

    return np.stack([hvp(f, [x, y], unit) for unit in np.eye(2)])
""",
    },
}


def grade_cell_of(solution_id: str) -> str:
    return solution_id.removesuffix("-solution")


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_each_delegation_is_a_working_answer_with_the_full_library(aid) -> None:
    """The visible checks of every delegated part pass in-process, with the full mytorch."""
    (nb,) = solved(REPO, aid, DELEGATING[aid]).values()
    namespace: dict = {}
    checked = set()
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") in DELEGATING[aid]:
            assert cell.source.strip() == DELEGATING[aid][nbgrader_meta(cell)["grade_id"]].strip()
        if cell.cell_type == "code":
            exec(cell.source, namespace)  # a visible check that fails raises AssertionError
            checked.add(f"{nbgrader_meta(cell).get('grade_id')}-solution")
    assert set(DELEGATING[aid]) <= checked


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_a_submission_delegating_to_the_library_scores_nothing_for_it(aid, tmp_path) -> None:
    from mytorch_course.autograde import grade_notebooks
    from mytorch_course.course_dir import copy_course
    from mytorch_course.release import release

    root = tmp_path / "course"
    copy_course(REPO, root)
    release(root, ids=[aid])
    cases = {
        "solutions": solved(root, aid),
        "release": release_notebooks(root, aid),
        "delegating": solved(root, aid, DELEGATING[aid]),
    }
    results = grade_notebooks(
        root, {(s, aid): nbs for s, nbs in cases.items()}, tmp_path / "work", budget=300, batch=3
    )
    by_student = {s: {p.part: p for p in results[(s, aid)].parts} for s in cases}
    solutions = by_student["solutions"]
    assert all(p.score == p.max_score > 0 for p in solutions.values()), solutions
    assert results[("release", aid)].score == 0
    delegated = {grade_cell_of(g) for g in DELEGATING[aid]}
    assert delegated < set(solutions)  # some parts are the student's own work
    for part, result in by_student["delegating"].items():
        expected = 0 if part in delegated else result.max_score
        assert result.score == expected, (part, result.score, result.reason)


# ------------------------------------------------------------------ the grader's kernel


@pytest.mark.parametrize("use_sandbox", [False, True], ids=["no-sandbox", "sandbox"])
def test_the_grading_kernel_imports_the_student_edition(tmp_path, use_sandbox) -> None:
    from traitlets.config import Config

    from mytorch_course import sandbox

    if use_sandbox and not sandbox.sandbox_support()[0]:
        pytest.skip(f"sandbox unavailable: {sandbox.sandbox_support()[1]}")
    folder = tmp_path / "autograded" / "alice" / "02-backprop"  # the edition comes from the name
    folder.mkdir(parents=True)
    config = Config()
    config.SandboxKernelManager.use_sandbox = use_sandbox
    code = (
        "import mytorch\n"
        "print('FILE', mytorch.__file__)\n"
        "try:\n"
        "    mytorch.op_gradients(mytorch.ops.Mul(), 2.0, 3.0, out_grad=1.0)\n"
        "except NotImplementedError as e:\n"
        "    print('STRIPPED', e)\n"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
        kernel_manager_class=sandbox.SandboxKernelManager,
        config=config,
    ).execute()
    out = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "FILE " in out and str(REPO) not in out, out
    assert "STRIPPED This is an exercise of assignment 02-backprop" in out, out


# ------------------------------------------------------------------ figures drawn in advance


def normalised_svg(text: str) -> str:
    """An SVG without what changes between runs: comments (graphviz's version) and slot ids."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    return re.sub(r"\b(t|op)\d+\b", r"\1#", text)


@pytest.mark.parametrize("aid", sorted(FIGURES))
def test_committed_figures_are_what_the_engine_draws_now(aid, tmp_path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed")
    committed = REPO / "solutions" / aid / "figures"
    written = render_figures(aid, tmp_path)
    assert sorted(p.name for p in written) == sorted(
        p.name for p in committed.iterdir()
    ), "run `mytorch-course figures` and commit solutions/*/figures/"
    for path in written:
        old = (committed / path.name).read_text()
        if path.suffix == ".svg":
            assert normalised_svg(path.read_text()) == normalised_svg(old), path.name
        else:
            assert path.read_text() == old, path.name
    released = REPO / "assignments" / aid / "figures"
    assert sorted(p.name for p in released.iterdir()) == sorted(p.name for p in written)
