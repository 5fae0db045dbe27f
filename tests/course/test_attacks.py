"""The attack suite: determined students against `mytorch-course autograde`, real kernels.

Each attack is one row of :data:`ATTACKS`: the solution cell it replaces and what that part
must score (0 unless the row keeps the honest solution). Attacks are grouped into a few
attacker submissions, graded in one run with an honest student, a classmate (the target of
the attacks on others) and the release, so the suite costs one autograde run per mode:

* ``sandbox``: kernels in the sandbox (root + bubblewrap, as in CI); every row runs.
* ``off``: the sandbox switched off (``MYTORCH_SANDBOX=off``, as on a laptop). Rows marked
  ``needs_sandbox`` are promises only the sandbox keeps (reading files, processes that
  outlive the run, resource limits): they are not submitted, and the test checks that the
  run warned ``SANDBOX OFF`` instead. Everything else must still fail.

Every test checks that the attackers earned nothing they did not do and that the honest
students' scores and feedback are exactly those of an honest run.

A new attack is one line in :data:`ATTACKS` (or :data:`DELEGATION_ATTACKS`, for work handed
to the library: the answer-free student editions, the forbidden names of parts done by hand
and the gradient's own derivative make those score 0).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import pickle
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_sandbox import SUPPORTED, WHY, processes_with

from mytorch_course import samples, sandbox
from mytorch_course.autograde import grade_notebooks
from mytorch_course.course_dir import copy_course
from mytorch_course.reports import SubmissionResult, write_reports

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
AID = "02-backprop"
HONEST = ("z-honest",)  # graded after every attacker (jobs run in name order)
RELEASE = "release"  # must keep scoring 0 whatever the attackers changed


@dataclass(frozen=True)
class Attack:
    """One attack: ``code`` replaces the solution cell of ``part`` in ``student``'s notebook.

    Placeholders: @WORK@ (the grading copy), @ROOT@ (the course the run was copied from),
    @REPO@ (the repository), @EXPORTS@ (where the exports will be written), @MARKER@ (a word
    for the command line of any process it starts), @VICTIM@ (a classmate).
    ``keep_solution``: the honest solution follows the attack, so the part keeps its points.
    """

    name: str
    student: str
    part: str
    code: str
    keep_solution: bool = False
    needs_sandbox: bool = False

    @property
    def cell(self) -> str:
        return f"{self.part}-solution"

    @property
    def expected(self) -> float:
        """The fraction of the part's points the attacker must get."""
        return 1.0 if self.keep_solution else 0.0


# A detached process (double fork, new session) that outlives its kernel unless the
# sandbox's PID namespace kills it; it runs ``body`` (Python) after ``delay`` seconds.
def _detached(body: str, delay: float) -> str:
    script = f"import time\ntime.sleep({delay})\n{body}"
    return (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', {script!r}, '@MARKER@'],\n"
        "                 start_new_session=True, stdout=subprocess.DEVNULL,\n"
        "                 stderr=subprocess.DEVNULL)\n"
    )


FORGE_PRINT = """\
import builtins, json
_print = builtins.print
def _forged(*args, **kwargs):  # the probe cell prints through builtins.print
    cell = get_ipython().user_ns["In"][-1]  # the running cell: the probe emitter
    if args and args[0] == "MYTORCH-PROBE" and "'multiply_divide_ops'" in cell:
        n = len(json.loads(args[2]))
        args = (args[0], args[1], json.dumps([[6.0, 1.0, 2.0, 3.0, 0.0]] * n))
    return _print(*args, **kwargs)
builtins.print = _forged
"""

FORGE_NONCE = """\
import re
def _before(info):  # the probe cell's source (In[-1]) holds the nonce: print a line first
    nonce = re.search(r"MYTORCH-PROBE', '([0-9a-f]+)'", info.raw_cell or "")
    if nonce and "'sigmoid_op'" in info.raw_cell:
        print("MYTORCH-PROBE", nonce.group(1), "[]")
get_ipython().events.register("pre_run_cell", _before)
"""

MANUAL = """\
import glob, sqlite3
for path in glob.glob("@WORK@/gradebook.db") + glob.glob("../../../gradebook.db"):
    try:
        db = sqlite3.connect(path, timeout=30)
        db.execute("UPDATE grade SET manual_score = 1000")
        db.execute("UPDATE grade_cells SET max_score = 1000")
        db.commit()
    except Exception as exc:
        print("gradebook:", type(exc).__name__)
"""

REWRITE_GRADING = """\
import os
parts = "@WORK@/grading/a02_backprop/parts.py"
try:
    with open(parts, "a") as fh:  # every part now expects nonsense: honest students fail
        fh.write("\\nimport dataclasses\\nfor _k in list(PARTS):\\n"
                 "    PARTS[_k] = dataclasses.replace(PARTS[_k], expected=lambda p: 1e300)\\n")
    with open("@WORK@/nbgrader_config.py", "a") as fh:  # and nothing is checked any more
        fh.write("\\nc.Autograde.autograde_preprocessors = []\\n")
    with open("@WORK@/nbgrader_config.json", "w") as fh:
        fh.write('{"Autograde": {"autograde_preprocessors": []}}')
except OSError as exc:
    print("rewrite:", type(exc).__name__)
"""

OVERWRITE_CLASSMATE = """\
import glob, os
for path in glob.glob("@WORK@/submitted/@VICTIM@/*/*.ipynb"):
    try:
        with open(path, "w") as fh:
            fh.write("{}")
    except OSError as exc:
        print("overwrite:", type(exc).__name__)
"""

CORRUPT_OWN = """\
import glob, os
for path in glob.glob("*.ipynb"):
    with open(path, "w") as fh:
        fh.write("garbage")
""" + _detached(
    "import glob\n"
    "end = time.time() + 60\n"
    "while time.time() < end:\n"
    "    for p in glob.glob('@WORK@/autograded/a0-vandal/*/*.ipynb'):\n"
    "        open(p, 'w').write('garbage')\n"
    "    time.sleep(0.2)\n",
    delay=0,
)

FLOOD = """\
from IPython.display import HTML, Javascript, display
print("A" * 20_000_000)
display(HTML("<script>document.title = 'pwned-by-a-student'</script>"))
display(Javascript("document.title = 'pwned-by-a-student'"))
"""

READ_FILES = """\
import glob, json, sys
for folder in ("@WORK@", "@ROOT@", "@REPO@"):
    for path in glob.glob(folder + "/solutions/02-backprop/*.ipynb"):
        for cell in json.load(open(path))["cells"]:
            if cell["cell_type"] == "code" and "def circuit_backward" in "".join(cell["source"]):
                exec("".join(cell["source"]))
    sys.path.insert(0, folder)
try:
    import grading.a02_backprop.parts as _parts  # the reference implementations
    print("grading files read:", len(_parts.PARTS))
except Exception as exc:
    print("grading:", type(exc).__name__)
"""

COPY = """\
import glob, json
paths = glob.glob("@WORK@/submitted/z-honest/*/*.ipynb") + glob.glob("../../z-honest/*/*.ipynb")
for path in paths:
    for cell in json.load(open(path))["cells"]:
        if cell["cell_type"] == "code" and "def ratio_backward" in "".join(cell["source"]):
            exec("".join(cell["source"]))
"""

LINGER = _detached(
    "import glob, os, sqlite3\n"
    "end = time.time() + 60\n"
    "while time.time() < end:\n"
    "    for p in glob.glob('@EXPORTS@/*.csv'):\n"
    "        open(p, 'a').write('a0-vandal,02-backprop,all,1000,105,\\n')\n"
    "    open('@ROOT@/grading/a02_backprop/backdoor.py', 'w').write('PWNED = 1')\n"
    "    with open('@ROOT@/grading/a02_backprop/parts.py', 'a') as fh:\n"
    "        fh.write('\\n# backdoor\\n')\n"
    "    db = sqlite3.connect('@WORK@/gradebook.db', timeout=30)\n"
    "    db.execute('UPDATE grade SET manual_score = 0')\n"
    "    db.commit()\n"
    "    time.sleep(0.5)\n",
    delay=3,
)

RESOURCES = """\
import os
def attempt(what, action):
    try:
        action()
    except BaseException as exc:
        print(what, "BLOCKED", type(exc).__name__)
attempt("memory", lambda: bytearray(16 << 30))
def fork_bomb():
    for _ in range(5000):
        if os.fork() == 0:
            import time
            time.sleep(600)
            os._exit(0)
attempt("fork", fork_bomb)
def fill_disk():
    with open("big.bin", "wb") as fh:
        for _ in range(64):
            fh.write(b"x" * (64 << 20))
attempt("disk", fill_disk)
"""

NEED = {"needs_sandbox": True}
KEEP = {"keep_solution": True}
ATTACKS: list[Attack] = [
    # harm to others and to the instructor ("a0-": graded before everyone else)
    Attack("manual_score into gradebook.db", "a0-vandal", "multiply_divide_ops", MANUAL),
    Attack("rewrite part file and config", "a0-vandal", "maximum_op", REWRITE_GRADING),
    Attack("overwrite a classmate's notebook", "a0-vandal", "sigmoid_op", OVERWRITE_CLASSMATE),
    Attack("corrupt own autograded notebook", "a0-vandal", "topological_order", CORRUPT_OWN),
    Attack("process edits exports, backdoor", "a0-vandal", "backward_pass", LINGER, **NEED),
    # forging the result line: worth exactly what the student's own code computes
    # (on parts without forbidden names, which would be reported before the forgery)
    Attack(
        "patch print to rewrite the result line", "a1-forger", "multiply_divide_ops", FORGE_PRINT
    ),
    Attack("print a line with In[-1]'s nonce", "a1-forger", "sigmoid_op", FORGE_NONCE),
    Attack("20 MB output line, raw <script>", "a1-forger", "backward_pass", FLOOD, **KEEP),
    # reading what is not theirs, and resource abuse: only the sandbox stops these
    Attack("read solutions and grading files", "a1-thief", "gate_examples", READ_FILES, **NEED),
    Attack("copy a classmate's notebook", "a1-thief", "branching_examples", COPY, **NEED),
    Attack("memory, fork bomb and disk", "a1-thief", "maximum_op", RESOURCES, **NEED),
]

# Delegation to the library and numeric tricks: they need the answer-free student editions
# and the gradient-of-gradient witness (other branches). Switch on after merging them.
ENGINE_BACKWARD = """\
from mytorch import Tensor
def circuit_backward(x, y, z, w, dout=1.0):
    t = [Tensor(float(v), requires_grad=True) for v in (x, y, z, w)]
    f = 3.0 * (t[0] * t[1] + t[2].maximum(t[3]))
    f.backward(Tensor(float(dout)))
    return (float(f.numpy()), *(float(v.grad.numpy()) for v in t))
"""
COMPLEX_STEP = """\
import numpy as np
class Sigmoid(Op):
    def compute(self, a):
        return 1.0 / (1.0 + np.exp(-a))
    def gradient(self, out_grad, node):
        a = node.inputs[0].numpy()
        d = (1.0 / (1.0 + np.exp(-(a + 1e-30j)))).imag / 1e-30
        return (out_grad * Tensor(d),)
"""
LIBRARY_OPS = "from mytorch.ops import Mul as Multiply, Div as Divide"
# Assignment 3: the engine's own pieces instead of the student's.
LIBRARY_RECORDING = """\
import mytorch
def add_operation(tape, op, inputs, output):
    mytorch.use_engine()
    return tape.add_operation(op, inputs, output)
"""
LIBRARY_BUFFER = """\
import mytorch
class MemoryBuffer(mytorch.MemoryBuffer):
    def accumulate(self, tensor, grad):
        super().accumulate(tensor.slot, grad)
    def get(self, tensor):
        return self.spots.get(tensor.slot)
    def pop(self, tensor):
        return super().pop(tensor.slot)
"""
LIBRARY_WALK = """\
import mytorch
def reverse_walk(records, loss, seed, buffer):
    return mytorch.autograd.reverse_walk(loss, seed)
"""
A1, A2, A3, A6 = "01-derivatives", "02-backprop", "03-engine", "06-beyond-backprop"
# The engine's own tangent rules, reached without a forbidden name: only the edition stops it.
SUPER_TANGENTS = "".join(
    f"class {op}(ops.{op}):\n    def tangent(self, tangents, node):\n"
    "        return super().tangent(tangents, node)\n"
    for op in "Add Sub Mul Div Exp Log Sin Cos Tanh PowerScalar Sum MatMul".split()
)
LIBRARY_HVP = """\
def hvp(f, x, v):
    return mytorch.hvp(f, x, v).data
def hvp_differences(f, x, v, h=1e-5):
    return mytorch.hvp(f, x, v).data
def rosenbrock_hessian(x, y, a=1.0, b=100.0):
    return 2.0 * b * np.array([[1.0, 0.0], [0.0, 1.0]])
"""
DELEGATION_ATTACKS: list[tuple[str, Attack]] = [
    (A2, Attack("library Mul and Div", "d-library", "multiply_divide_ops", LIBRARY_OPS)),
    (A2, Attack("library Maximum", "d-library", "maximum_op", "from mytorch.ops import Maximum")),
    (A2, Attack("library Sigmoid", "d-library", "sigmoid_op", "from mytorch.ops import Sigmoid")),
    (A2, Attack("engine's backward() by hand", "d-engine", "gate_examples", ENGINE_BACKWARD)),
    (A2, Attack("complex-step gradient", "d-complex", "sigmoid_op", COMPLEX_STEP)),
    (A1, Attack("library numerical_gradient", "d-library", "numerical_gradient",
                "import mytorch\nnumerical_gradient = mytorch.numerical_gradient")),
    (A3, Attack("library add_operation", "d-library", "add_operation", LIBRARY_RECORDING)),
    (A3, Attack("library MemoryBuffer", "d-library", "memory_buffer", LIBRARY_BUFFER)),
    (A3, Attack("library reverse walk", "d-library", "reverse_walk", LIBRARY_WALK)),
    (A6, Attack("the engine's tangent rules via super()", "d-super", "tangent_rules",
                SUPER_TANGENTS)),
    (A6, Attack("library hvp", "d-library", "hvp", LIBRARY_HVP)),
]  # fmt: skip


# --------------------------------------------------------------------------- the runs


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _submissions(
    root: Path, aid: str, attacks: list[Attack], places: dict[str, str]
) -> dict[tuple[str, str], dict]:
    """student -> notebooks: each attacker's notebook is the solutions with its rows' cells
    replaced; the honest students and the release are graded alongside."""
    solution = _solution_sources(root, aid)  # the honest code of each solution cell
    subs = {(s, aid): samples.solved(root, aid) for s in HONEST}
    subs[(RELEASE, aid)] = samples.release_notebooks(root, aid)
    by_student: dict[str, dict[str, str]] = {}
    for attack in attacks:
        code = attack.code
        for key, value in places.items():
            code = code.replace(key, value)
        if attack.keep_solution:
            code += "\n" + solution[attack.cell]
        cells = by_student.setdefault(attack.student, {})
        assert attack.cell not in cells, f"two attacks of {attack.student} in {attack.cell}"
        cells[attack.cell] = code
    for student, cells in by_student.items():
        subs[(student, aid)] = samples.solved(root, aid, cells)
    return subs


def _solution_sources(root: Path, aid: str) -> dict[str, str]:
    from mytorch_course.course_dir import source_notebooks
    from mytorch_course.notebook import nbgrader_meta, strip_solution_markers

    return {
        nbgrader_meta(c)["grade_id"]: strip_solution_markers(c.source)
        for nb in source_notebooks(root, aid).values()
        for c in nb.cells
        if nbgrader_meta(c).get("solution")
    }


@dataclass
class Run:
    mode: str
    work: Path
    root: Path
    exports: Path
    results: dict[str, SubmissionResult]
    attacks: list[Attack]
    skipped: list[Attack]
    warning: str
    root_before: dict[str, str]
    exports_before: dict[str, str]
    feedback: dict[str, str]  # student -> feedback HTML right after the run
    marker: str


MODES = ["sandbox", "off"]


@pytest.fixture(scope="module", params=MODES)
def attacked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One grading run per mode, shared by every test and every xdist worker (xdist may
    spread the tests over workers or interleave the modes, which would grade again)."""
    mode = request.param
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # this session's folder, common to its workers
    with open(shared / f"attacks-{mode}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = shared / f"attacks-{mode}.pickle"
        if saved.is_file():
            return pickle.loads(saved.read_bytes())
        result = _grade_attacks(mode, tmp_path_factory)
        saved.write_bytes(pickle.dumps(result))
        return result


def _grade_attacks(mode: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    if mode == "sandbox" and not SUPPORTED:
        pytest.skip(f"sandbox unavailable here ({WHY}); the 'off' mode runs instead")
    base = tmp_path_factory.mktemp(f"attacks-{mode}")
    root = copy_course(REPO, base / "course")  # what a lingering process would backdoor
    work, exports = base / "work", base / "exports"
    marker = f"mytorch-attack-{uuid.uuid4().hex[:12]}"
    places = {
        "@WORK@": str(work),
        "@ROOT@": str(root),
        "@REPO@": str(REPO),
        "@EXPORTS@": str(exports),
        "@MARKER@": marker,
        "@VICTIM@": "z-honest",
    }
    sandboxed = mode == "sandbox"
    attacks = [a for a in ATTACKS if sandboxed or not a.needs_sandbox]
    skipped = [a for a in ATTACKS if a not in attacks]
    root_before = _digest(root)
    old = os.environ.get(sandbox.ENV_MODE)
    stderr = io.StringIO()  # the warnings the instructor would see
    try:
        with contextlib.redirect_stderr(stderr):
            assert sandbox.select_mode(require=sandboxed, off=not sandboxed) == sandboxed
            # Without the sandbox, harm done during one run is only undone between nbgrader
            # processes: one worker keeps the order (the attackers', then everyone else's).
            workers = 2 if sandboxed else 1
            subs = _submissions(root, AID, attacks, places)
            results = grade_notebooks(root, subs, work, workers=workers, budget=240, batch=2)
    finally:
        if old is None:
            os.environ.pop(sandbox.ENV_MODE, None)
        else:
            os.environ[sandbox.ENV_MODE] = old
    warning = stderr.getvalue()
    write_reports(work, list(results.values()), exports)
    feedback = {student: _feedback_html(exports, student) for (student, _) in results if student}
    exports_before = _digest(exports)
    return Run(
        mode,
        work,
        root,
        exports,
        {s: r for (s, _), r in results.items()},
        attacks,
        skipped,
        warning,
        root_before,
        exports_before,
        feedback,
        marker,
    )


def _feedback_html(exports: Path, student: str) -> str:
    path = exports / "feedback" / student / AID / f"{AID}.html"
    return path.read_text() if path.is_file() else ""


def _scores(result: SubmissionResult) -> dict[str, float]:
    return {p.part: p.score for p in result.parts}


def _full(result: SubmissionResult) -> dict[str, float]:
    return {p.part: p.max_score for p in result.parts}


# --------------------------------------------------------------------------- the tests


def test_honest_students_keep_full_marks_and_feedback(attacked: Run) -> None:
    for student in HONEST:
        result = attacked.results[student]
        assert _scores(result) == _full(result) and result.max_score == 105, (student, result)
        assert not any("feedback" in n for n in result.notes), result.notes
        html = attacked.feedback[student]
        assert "105.0 / 105.0" in html or "105 / 105" in html, html[:2000]


def test_the_release_still_scores_zero(attacked: Run) -> None:
    # after the config and part files were rewritten to check nothing
    assert attacked.results[RELEASE].score == 0


def test_each_attacker_earns_only_what_it_did(attacked: Run) -> None:
    by_student: dict[str, dict[str, Attack]] = {}
    for attack in attacked.attacks:
        by_student.setdefault(attack.student, {})[attack.part] = attack
    for student, attacks in by_student.items():
        result = attacked.results[student]
        want = {
            part: (attacks[part].expected * full if part in attacks else full)
            for part, full in _full(result).items()
        }
        assert _scores(result) == want, (
            student,
            [(p.part, p.score, p.reason[:200]) for p in result.parts],
            result.notes,
        )


def test_forged_result_lines_are_rejected_with_a_reason(attacked: Run) -> None:
    reasons = {p.part: p.reason for p in attacked.results["a1-forger"].parts}
    assert "more than once" in reasons["sigmoid_op"]
    assert "raised" in reasons["multiply_divide_ops"] or "failed" in reasons["multiply_divide_ops"]


def test_grading_files_are_unchanged_or_restored_and_reported(attacked: Run) -> None:
    for name in ("grading/a02_backprop/parts.py", "nbgrader_config.py"):
        assert (attacked.work / name).read_bytes() == (attacked.root / name).read_bytes()
    assert not (attacked.work / "nbgrader_config.json").exists()
    notes = " ".join(attacked.results["a0-vandal"].notes)
    if attacked.mode == "off":  # the kernel could write them: the run says it did
        assert "grading files changed" in attacked.warning, attacked.warning
        assert "parts.py" in attacked.warning and "nbgrader_config.json" in attacked.warning
        assert "gradebook.db: grade_cells" in attacked.warning  # a planted max_score
        assert "grading files changed" in notes
    else:  # the sandboxed kernel never saw them
        assert "grading files changed" not in attacked.warning


def test_a_corrupted_own_notebook_costs_only_its_owner(attacked: Run) -> None:
    vandal = attacked.results["a0-vandal"]
    assert len(vandal.parts) == 7  # graded, with every part listed
    if attacked.mode == "off":  # its process outlived the kernel and spoiled the notebook
        assert any("no feedback" in n and "corrupted" in n for n in vandal.notes), vandal.notes
    others = [s for s in attacked.feedback if s != "a0-vandal"]
    assert all(attacked.feedback[s] for s in others), [
        s for s in others if not attacked.feedback[s]
    ]


def test_output_is_capped_and_student_html_is_text(attacked: Run) -> None:
    html = attacked.feedback["a1-forger"]
    assert 0 < len(html) < 2_000_000
    assert "characters cut by the grader" in html
    assert "<script>document.title" not in html
    assert "pwned-by-a-student" in html  # shown, as text


def test_promises_that_need_the_sandbox(attacked: Run) -> None:
    if attacked.mode == "off":
        assert attacked.skipped  # stealing, lingering and resource attacks: not run here
        assert "SANDBOX OFF" in attacked.warning
        return
    assert not attacked.skipped
    hog = {p.part: p.reason for p in attacked.results["a1-thief"].parts}
    assert hog["maximum_op"]  # the part failed with a reason; the kernel and run went on
    time.sleep(8)  # the lingering process would have started writing by now
    assert processes_with(attacked.marker) == []
    assert _digest(attacked.exports) == attacked.exports_before
    assert _digest(attacked.root) == attacked.root_before


def test_nothing_outlives_a_sandboxed_run(attacked: Run) -> None:
    if attacked.mode == "off":
        pytest.skip("without the sandbox a student's process can outlive the run (README)")
    assert processes_with(attacked.marker) == []


# --------------------------------------------------------------------------- delegation


def test_delegating_to_the_library_scores_zero(tmp_path: Path) -> None:
    aids = sorted({aid for aid, _ in DELEGATION_ATTACKS})
    subs: dict[tuple[str, str], dict] = {}
    for aid in aids:
        rows = [a for a_id, a in DELEGATION_ATTACKS if a_id == aid]
        subs |= _submissions(REPO, aid, rows, {})
    results = grade_notebooks(REPO, subs, tmp_path / "work", workers=2, budget=240, batch=2)
    for aid, attack in DELEGATION_ATTACKS:
        result = results[(attack.student, aid)]
        got = _scores(result)[attack.part]
        assert got == 0, (attack.name, [(p.part, p.score, p.reason[:200]) for p in result.parts])
    for aid in aids:
        for student in HONEST:
            assert _scores(results[(student, aid)]) == _full(results[(student, aid)])
    shutil.rmtree(tmp_path / "work", ignore_errors=True)


# --------------------------------------------------------------------------- plain nbgrader


def test_the_plain_nbgrader_cli_gives_the_attackers_nothing(tmp_path: Path) -> None:
    """The README's plain sequence (`nbgrader generate_assignment`, then `nbgrader autograde`)
    on the same attackers: nbgrader_config.py puts every kernel in the sandbox, so the scores
    nbgrader writes to its gradebook are those each attacker earned, and nobody else's move."""
    if not SUPPORTED:
        pytest.skip(f"sandbox unavailable here ({WHY}): the plain CLI is unprotected (README)")
    from nbgrader.api import Gradebook

    from mytorch_course.collect import place_submission
    from mytorch_course.nbgrader_process import nbgrader

    course = copy_course(REPO, tmp_path / "course")
    places = {"@WORK@": str(course), "@ROOT@": str(course), "@REPO@": str(REPO)}
    places |= {"@EXPORTS@": str(tmp_path / "exports"), "@VICTIM@": "z-honest"}
    places["@MARKER@"] = f"mytorch-attack-{uuid.uuid4().hex[:12]}"
    for (student, aid), notebooks in _submissions(course, AID, ATTACKS, places).items():
        place_submission(course, student, aid, notebooks)
    for args in (["generate_assignment", AID], ["autograde", AID]):
        done = nbgrader(args, course, timeout=1200)
        assert done.returncode == 0, done.stdout[-3000:]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        got = {
            s.id: {g.name: g.score for g in gb.find_submission_notebook(AID, AID, s.id).grades}
            for s in gb.students
        }
        full = {c.name: c.max_score for c in gb.find_notebook(AID, AID).grade_cells}
    assert set(got) == {a.student for a in ATTACKS} | set(HONEST) | {RELEASE}
    assert sum(full.values()) == 105
    attacked = {(a.student, a.part): a.expected for a in ATTACKS}
    for student, scores in got.items():
        want = {p: m * attacked.get((student, p), 0.0 if student == RELEASE else 1.0)
                for p, m in full.items()}  # fmt: skip
        assert scores == want, (student, scores)
    assert processes_with(places["@MARKER@"]) == []
