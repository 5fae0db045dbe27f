"""The op catalogue, checked against float64 finite differences, itself, the engine and by hand.

For every rule and every probe it draws (seeded; upstream gradients and tangents are random
normals, never all ones): the VJP matches central differences, the JVP matches a directional
difference, the two modes agree (<u, J v> == <J^T u, v>), each typical mistake really is
wrong, and ``mytorch`` computes the same forward and gradients. Hand-computed values check
that the catalogue is right, not only consistent with itself.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable

import numpy as np
import pytest

import mytorch as mt
from mytorch_course import catalogue
from mytorch_course.catalogue import RULES, Case, OpRule
from mytorch_course.numeric import central_difference, directional_difference

# Central differences are good to about 1e-9 relative here; a rule off by 1% is far outside.
RTOL, ATOL = 1e-6, 1e-7


def rng_for(*key: object) -> np.random.Generator:
    """A generator seeded by the test's name, so that each probe is reproducible."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


CASES: dict[str, list[Case]] = {name: rule.cases(rng_for(name)) for name, rule in RULES.items()}
RULE_CASES = [(name, index) for name, cases in CASES.items() for index in range(len(cases))]
RULE_MISTAKES = [(name, m.name) for name, rule in RULES.items() for m in rule.mistakes]


def describe(name: str, case: Case) -> str:
    shapes = ", ".join(str(x.shape) for x in case.inputs)
    return f"{name}({shapes}, {case.params})"


def draw_like(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape)


def check_vjp(rule: OpRule, case: Case, rng: np.random.Generator) -> None:
    """Assert the rule's VJP equals central differences, each gradient its input's shape."""
    out_grad = draw_like(rng, np.shape(rule.forward(*case.inputs, **case.params)))
    got = rule.vjp(out_grad, *case.inputs, **case.params)
    want = central_difference(lambda *xs: rule.forward(*xs, **case.params), case.inputs, out_grad)
    assert len(got) == len(case.inputs), f"{describe(rule.name, case)}: one gradient per input"
    for index, (g, w) in enumerate(zip(got, want, strict=True)):
        where = f"{describe(rule.name, case)}, input {index}"
        assert np.shape(g) == w.shape, f"{where}: gradient shape {np.shape(g)}, want {w.shape}"
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=where)


def check_jvp(rule: OpRule, case: Case, rng: np.random.Generator) -> None:
    """Assert the rule's JVP equals a central difference along random tangents."""
    tangents = tuple(draw_like(rng, x.shape) for x in case.inputs)
    got = rule.jvp(tangents, *case.inputs, **case.params)
    want = directional_difference(
        lambda *xs: rule.forward(*xs, **case.params), case.inputs, tangents
    )
    where = describe(rule.name, case)
    assert np.shape(got) == want.shape, f"{where}: tangent shape {np.shape(got)}, want {want.shape}"
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=where)


def check_adjoint(rule: OpRule, case: Case, rng: np.random.Generator) -> None:
    """Assert <u, J v> == <J^T u, v>: forward and reverse mode describe the same Jacobian."""
    u = draw_like(rng, np.shape(rule.forward(*case.inputs, **case.params)))
    v = tuple(draw_like(rng, x.shape) for x in case.inputs)
    forward_mode = float(np.sum(u * rule.jvp(v, *case.inputs, **case.params)))
    reverse_mode = sum(
        float(np.sum(g * t))
        for g, t in zip(rule.vjp(u, *case.inputs, **case.params), v, strict=True)
    )
    assert forward_mode == pytest.approx(reverse_mode, rel=1e-10, abs=1e-12), describe(
        rule.name, case
    )


CHECKS: dict[str, Callable[[OpRule, Case, np.random.Generator], None]] = {
    "vjp": check_vjp,
    "jvp": check_jvp,
    "adjoint": check_adjoint,
}


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize(("name", "index"), RULE_CASES)
def test_rule(check: str, name: str, index: int) -> None:
    CHECKS[check](RULES[name], CASES[name][index], rng_for(check, name, index))


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("name", sorted(RULES))
def test_a_rule_off_by_one_percent_is_caught(check: str, name: str) -> None:
    """The checks above can fail: the same rule scaled by 1.01 fails on some probe."""
    rule = RULES[name]
    wrong = dataclasses.replace(
        rule,
        vjp=lambda g, *xs, **p: tuple(1.01 * d for d in rule.vjp(g, *xs, **p)),
        jvp=lambda t, *xs, **p: 1.01 * rule.jvp(t, *xs, **p),
    )
    if check == "adjoint":  # only one of the two modes is wrong, or the identity still holds
        wrong = dataclasses.replace(wrong, vjp=rule.vjp)
    with pytest.raises(AssertionError):
        for index, case in enumerate(CASES[name]):
            CHECKS[check](wrong, case, rng_for(check, name, index))


def test_probes_and_results_are_float64_arrays_inside_each_domain() -> None:
    for name, rule in RULES.items():
        assert len(CASES[name]) >= 3, f"{name}: too few probes"
        for case in CASES[name]:
            assert all(x.dtype == np.float64 for x in case.inputs), describe(name, case)
            out = rule.forward(*case.inputs, **case.params)
            grads = rule.vjp(np.ones_like(out), *case.inputs, **case.params)
            tangent = rule.jvp(tuple(np.ones_like(x) for x in case.inputs), *case.inputs,
                               **case.params)  # fmt: skip
            for result in (out, *grads, tangent):
                assert type(result) is np.ndarray, f"{describe(name, case)}: {type(result)}"
                assert result.flags.writeable, describe(name, case)
                assert result.dtype == np.float64, describe(name, case)
                assert np.all(np.isfinite(result)), describe(name, case)


def test_probes_cover_ranks_0_to_3_and_broadcasting() -> None:
    ranks = {x.ndim for cases in CASES.values() for case in cases for x in case.inputs}
    assert {0, 1, 2, 3} <= ranks
    for name in ("add", "sub", "mul", "div", "pow", "maximum"):
        shapes = [tuple(x.shape for x in case.inputs) for case in CASES[name]]
        assert any(a != b for a, b in shapes), f"{name}: no broadcasting probe"
    for name in ("sum", "mean", "max", "logsumexp"):
        axes = [case.params["axis"] for case in CASES[name]]
        assert any(isinstance(a, int) and a < 0 for a in axes), f"{name}: no negative axis"
        assert {True, False} <= {case.params["keepdims"] for case in CASES[name]}


def outputs_differ(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...]) -> bool:
    if len(got) != len(want):
        return True
    return any(
        np.shape(g) != np.shape(w) or not np.allclose(g, w, rtol=1e-5, atol=1e-7)
        for g, w in zip(got, want, strict=True)
    )


@pytest.mark.parametrize(("name", "mistake_name"), RULE_MISTAKES)
def test_each_mistake_is_wrong_on_some_probe(name: str, mistake_name: str) -> None:
    rule = RULES[name]
    (mistake,) = [m for m in rule.mistakes if m.name == mistake_name]
    assert mistake.hint.strip(), f"{name}.{mistake_name}: a mistake needs a hint"
    produced = differed = 0
    for index, case in enumerate(CASES[name]):
        rng = rng_for("mistake", name, index)
        out_grad = draw_like(rng, np.shape(rule.forward(*case.inputs, **case.params)))
        try:
            got = mistake.vjp(out_grad, *case.inputs, **case.params)
        except ValueError:  # documented: the mistake cannot even run on this probe
            continue
        produced += 1
        differed += outputs_differ(got, rule.vjp(out_grad, *case.inputs, **case.params))
    assert produced, f"{name}.{mistake_name} raised on every probe"
    assert differed, f"{name}.{mistake_name} agrees with the correct rule on every probe"


def test_mistake_names_are_unique_per_rule() -> None:
    for name, rule in RULES.items():
        names = [m.name for m in rule.mistakes]
        assert len(names) == len(set(names)), name


# --- the engine computes what the catalogue says ------------------------------------------------


def engine_function(rule: OpRule) -> Callable[..., mt.Tensor]:
    if hasattr(mt, rule.name):
        return getattr(mt, rule.name)
    if rule.name == "pow":  # the public path to Pow is power() with a tensor exponent
        return mt.power
    if rule.name == "affine":  # no public function: nn.Linear applies the op itself
        return lambda *tensors: mt.ops.Affine()(*tensors)
    pytest.skip(f"engine lacks mytorch.{rule.name}")


def engine_case(name: str, index: int) -> object:
    case = CASES[name][index]
    axes = case.params.get("axes")
    if name == "transpose" and axes is not None and min(axes) < 0:
        return pytest.param(
            name,
            index,
            marks=pytest.mark.xfail(
                strict=True,
                reason="engine bug (issue 9): Transpose.gradient inverts negative axes with "
                "np.argsort; remove this mark once the engine is fixed",
            ),
        )
    return (name, index)


@pytest.mark.parametrize(("name", "index"), [engine_case(n, i) for n, i in RULE_CASES])
def test_engine_agrees_with_the_catalogue(name: str, index: int) -> None:
    rule, case = RULES[name], CASES[name][index]
    function = engine_function(rule)
    assert isinstance(getattr(mt.ops, rule.op_class, None), type), f"no mytorch.ops.{rule.op_class}"
    tensors = [mt.Tensor(x.copy(), requires_grad=True) for x in case.inputs]
    out = function(*tensors, *case.params.values())
    want = rule.forward(*case.inputs, **case.params)
    where = describe(name, case)
    np.testing.assert_allclose(out.data, want, rtol=1e-12, atol=1e-12, err_msg=where)
    out_grad = draw_like(rng_for("engine", name, index), want.shape)
    out.backward(mt.Tensor(out_grad))
    for i, (t, g) in enumerate(
        zip(tensors, rule.vjp(out_grad, *case.inputs, **case.params), strict=True)
    ):
        assert t.grad is not None, f"{where}: no gradient for input {i}"
        assert t.grad.shape == g.shape, f"{where}, input {i}: {t.grad.shape}, want {g.shape}"
        np.testing.assert_allclose(
            t.grad.data, g, rtol=1e-10, atol=1e-12, err_msg=f"{where}, input {i}"
        )


def test_every_engine_op_is_in_the_catalogue() -> None:
    """A new differentiable op of the engine needs its rule here (indexing is graded apart)."""
    not_rules = {"Op", "Reduction", "GetItem", "ScatterAdd"}
    engine_ops = {
        name
        for name, cls in vars(mt.ops).items()
        if isinstance(cls, type) and issubclass(cls, mt.ops.Op) and name not in not_rules
    }
    assert engine_ops <= {rule.op_class for rule in RULES.values()}


# --- independent worked examples (computed by hand, not by the catalogue) ------------------------

WORKED = [
    # (rule, inputs, params, out_grad, expected gradient per input)
    ("matmul", ([[1, 2], [3, 4]], [[5, 6], [7, 8]]), {}, [[1, 0], [0, 2]],
     ([[5, 7], [12, 16]], [[1, 6], [2, 8]])),  # G B^T and A^T G
    ("matmul", ([[[1, 2]], [[3, 4]]], [[1], [1]]), {}, [[[1]], [[2]]],
     ([[[1, 1]], [[2, 2]]], [[1 * 1 + 3 * 2], [2 * 1 + 4 * 2]])),  # B's gradient sums the batch
    ("sigmoid", (0.0,), {}, 2.0, (2.0 * 0.25,)),  # sigmoid'(0) = 1/4
    ("log", (2.0,), {}, 3.0, (3.0 * 0.5,)),  # d/dx log x at 2 = 1/2
    ("tanh", (0.0,), {}, 3.0, (3.0,)),  # tanh'(0) = 1
    ("sin", (0.0,), {}, 2.0, (2.0,)),  # cos 0 = 1
    ("sqrt", (4.0,), {}, 1.0, (0.25,)),  # 1 / (2 sqrt 4)
    ("power", (2.0,), {"exponent": -1}, 1.0, (-0.25,)),  # -1 / x^2
    ("power", (2.0,), {"exponent": 0}, 5.0, (0.0,)),
    ("pow", (2.0, 3.0), {}, 1.0, (12.0, 8.0 * 0.6931471805599453)),  # b a^(b-1), a^b ln a
    ("div", (6.0, 3.0), {}, 1.0, (1 / 3, -6 / 9)),
    ("add", ([[1, 2, 3], [4, 5, 6]], [0, 0, 0]), {}, [[1, 2, 3], [4, 5, 6]],
     ([[1, 2, 3], [4, 5, 6]], [5, 7, 9])),  # b was broadcast over the rows
    ("relu", ([-1.0, 2.0],), {}, [3.0, 4.0], ([0.0, 4.0],)),
    ("abs", ([-1.0, 2.0],), {}, [3.0, 4.0], ([-3.0, 4.0],)),
    ("maximum", ([1.0, 5.0], [2.0, 4.0]), {}, [3.0, 4.0], ([0.0, 4.0], [3.0, 0.0])),
    ("max", ([1.0, 5.0, 3.0],), {"axis": None, "keepdims": False}, 2.0, ([0.0, 2.0, 0.0],)),
    ("sum", ([[1, 2, 3], [4, 5, 6]],), {"axis": 1, "keepdims": False}, [1, 2],
     ([[1, 1, 1], [2, 2, 2]],)),
    ("mean", ([[1, 2], [3, 4]],), {"axis": 0, "keepdims": False}, [4, 6], ([[2, 3], [2, 3]],)),
    ("softmax", ([0.0, 0.0],), {"axis": -1}, [1.0, 0.0], ([0.25, -0.25],)),
    ("logsumexp", ([0.0, 0.0],), {"axis": None, "keepdims": False}, 2.0, ([1.0, 1.0],)),
    ("transpose", ([[1, 2], [3, 4]],), {"axes": (-1, 0)}, [[1, 2], [3, 4]], ([[1, 3], [2, 4]],)),
    ("broadcast_to", ([1.0, 2.0],), {"shape": (3, 2)}, [[1, 2], [3, 4], [5, 6]], ([9, 12],)),
    ("affine", ([[1, 2]], [[1, 0], [0, 1]], [0, 0]), {}, [[3, 4]],
     ([[3, 4]], [[3, 4], [6, 8]], [3, 4])),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "inputs", "params", "out_grad", "expected"),
    WORKED,
    ids=[f"{row[0]}-{i}" for i, row in enumerate(WORKED)],
)
def test_worked_example(name, inputs, params, out_grad, expected) -> None:
    rule = RULES[name]
    xs = tuple(np.array(x, dtype=np.float64) for x in inputs)
    got = rule.vjp(np.array(out_grad, dtype=np.float64), *xs, **params)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, np.array(e, dtype=np.float64), rtol=1e-12, atol=1e-15)


def test_worked_tangents() -> None:
    def jvp(name: str, tangents: tuple, *inputs: object, **params: object) -> np.ndarray:
        arrays = tuple(np.array(x, dtype=np.float64) for x in inputs)
        return RULES[name].jvp(tuple(np.array(t, dtype=np.float64) for t in tangents), *arrays,
                               **params)  # fmt: skip

    assert jvp("mul", (1.0, 1.0), 2.0, 3.0) == pytest.approx(5.0)  # da b + a db = 3 + 2
    assert jvp("exp", (2.0,), 0.0) == pytest.approx(2.0)
    assert jvp("cos", (1.0,), np.pi / 2) == pytest.approx(-1.0)
    np.testing.assert_allclose(
        jvp("matmul", ([[1, 0], [0, 0]], [[0, 0], [0, 0]]), [[1, 2], [3, 4]], [[5, 6], [7, 8]]),
        [[5, 6], [0, 0]],  # dA B picks B's first row
    )


# --- the book's table of rules ------------------------------------------------------------------


def test_the_book_table_is_current() -> None:
    page = catalogue.BOOK_PAGE.read_text(encoding="utf-8")
    assert catalogue.book_region(page) == catalogue.markdown_table(), (
        "book/engine-reference.md's table of rules is stale: run "
        "`python -m mytorch_course.catalogue --write-book`"
    )


def test_the_table_has_one_well_formed_row_per_rule() -> None:
    lines = catalogue.markdown_table().splitlines()
    rows = [line for line in lines if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [rule.op_class for rule in RULES.values()]
    for row in rows:  # a | inside TeX would split a cell
        assert row.count("|") == 5, row
        assert row.count("$") == 6, row


def test_write_book_replaces_only_its_region(tmp_path) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"# Title\n\n{catalogue.BEGIN}\nold table\n{catalogue.END}\n\nafter\n")
    assert catalogue.write_book(page) is True
    text = page.read_text()
    assert text.startswith("# Title\n\n") and text.endswith("\n\nafter\n")
    assert catalogue.book_region(text) == catalogue.markdown_table()
    assert catalogue.write_book(page) is False  # idempotent
    assert page.read_text() == text


def test_write_book_needs_the_markers(tmp_path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# no markers\n")
    with pytest.raises(ValueError, match="BEGIN OP TABLE"):
        catalogue.write_book(page)
