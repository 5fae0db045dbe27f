"""Time one MLP training step: MyTorch vs hand-written numpy (vs PyTorch CPU if present).

One step = forward, softmax cross-entropy (mean over the batch), backward, SGD update.
The three implementations train *the same network* (same initial weights, same batch,
same learning rate) and before any timing the script checks that MyTorch and numpy
(and PyTorch) give the same loss and the same updated parameters, so the comparison
is honest. Timings are interleaved (numpy, mytorch, torch, numpy, ...) to share out
machine noise, and each entry is the median over repeats; the ratio column is the
median of the per-repeat ratios of neighbouring blocks.

Usage::

    python benchmarks/train_step.py            # full table (about a minute)
    python benchmarks/train_step.py --quick    # smoke run: few repeats
    python benchmarks/train_step.py --json benchmarks/results/train_step.json

PyTorch is optional and not a dependency: run the script with an interpreter that has
``torch`` (and numpy) installed, e.g. a throwaway venv, to fill the torch column.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import importlib.util
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import mytorch  # noqa: E402
import mytorch.nn as mnn  # noqa: E402
import mytorch.optim as moptim  # noqa: E402

HAVE_TORCH = importlib.util.find_spec("torch") is not None  # optional; never a dependency
torch = None  # imported only inside the worker process (see TorchWorker)

# (layer widths, batch size) and the goal for the mytorch/numpy ratio (from the issue)
SIZES: list[tuple[tuple[int, ...], int, float]] = [
    ((64, 32, 10), 32, 1.40),
    ((784, 256, 256, 10), 128, 1.08),
    ((784, 1024, 1024, 10), 512, 1.04),
]
DTYPES = (np.float64, np.float32)
LR = 0.05


# --------------------------------------------------------------------------- the problem


@dataclass
class Problem:
    widths: tuple[int, ...]
    batch: int
    dtype: type
    Ws: list[np.ndarray]  # (fan_in, fan_out): y = x @ W + b
    bs: list[np.ndarray]
    X: np.ndarray
    y: np.ndarray


def make_problem(widths: tuple[int, ...], batch: int, dtype, seed: int = 0) -> Problem:
    """Initial weights (PyTorch's default uniform(+-1/sqrt(fan_in))) and one batch."""
    rng = np.random.default_rng(seed)
    Ws, bs = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        bound = 1.0 / np.sqrt(fan_in)
        Ws.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        bs.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
    X = rng.standard_normal((batch, widths[0])).astype(dtype)
    y = rng.integers(0, widths[-1], batch).astype(np.int64)
    return Problem(widths, batch, dtype, Ws, bs, X, y)


# --------------------------------------------------------------------------- numpy


class NumpyMLP:
    """The reference: forward, backward and SGD written out by hand in numpy.

    Written the way a student (or an autograd engine) structures it: all gradients
    first, then one SGD update loop, so the comparison measures the engine's
    overhead, not a different schedule of the same arithmetic. Idiomatic numpy
    otherwise (in-place where that is natural: ``g *= a > 0``, ``W -= lr * dW``).
    """

    def __init__(self, p: Problem, lr: float = LR):
        self.Ws = [W.copy() for W in p.Ws]
        self.bs = [b.copy() for b in p.bs]
        self.lr = p.dtype(lr)

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        loss, cache = self.forward(X, y)
        self.update(*self.backward(cache))
        return loss

    def forward(self, X: np.ndarray, y: np.ndarray) -> tuple[float, tuple]:
        """Forward pass and mean softmax cross-entropy; returns (loss, cache)."""
        Ws, bs = self.Ws, self.bs
        rows = np.arange(X.shape[0])
        acts = [X]  # the input of every layer, kept for backward
        h = X
        for W, b in zip(Ws[:-1], bs[:-1], strict=True):
            h = np.maximum(h @ W + b, 0)
            acts.append(h)
        logits = h @ Ws[-1] + bs[-1]
        z = logits - logits.max(axis=1, keepdims=True)  # stable softmax
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - z[rows, y]))
        return loss, (acts, e, s, rows, y)

    def backward(self, cache: tuple) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradients of the loss for every weight and bias."""
        acts, e, s, rows, y = cache
        Ws = self.Ws
        g = e / s  # softmax
        g[rows, y] -= 1
        g /= len(rows)
        dWs, dbs = [None] * len(Ws), [None] * len(Ws)
        for i in range(len(Ws) - 1, -1, -1):
            a = acts[i]
            dWs[i] = a.T @ g
            dbs[i] = g.sum(axis=0)
            if i > 0:
                g = g @ Ws[i].T
                g *= a > 0
        return dWs, dbs

    def update(self, dWs: list[np.ndarray], dbs: list[np.ndarray]) -> None:
        """Plain SGD, in place."""
        for W, b, dW, db in zip(self.Ws, self.bs, dWs, dbs, strict=True):
            W -= self.lr * dW
            b -= self.lr * db

    def params(self) -> list[np.ndarray]:
        return [t for pair in zip(self.Ws, self.bs, strict=True) for t in pair]


# --------------------------------------------------------------------------- mytorch


def _mytorch_weight_is_in_out() -> bool:
    """True if ``mnn.Linear(i, o).weight`` has shape (i, o), False for PyTorch's (o, i)."""
    shape = tuple(mnn.Linear(3, 5).weight.shape)
    if shape not in ((3, 5), (5, 3)):
        raise RuntimeError(f"unexpected mytorch Linear(3, 5) weight shape {shape}")
    return shape == (3, 5)


class MyTorchMLP:
    """The same network built from mytorch.nn, trained with mytorch.optim.SGD."""

    def __init__(self, p: Problem, lr: float = LR):
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(p.widths[:-1], p.widths[1:], strict=True)):
            layers.append(mnn.Linear(fan_in, fan_out))
            if i < len(p.Ws) - 1:
                layers.append(mnn.ReLU())
        self.model = mnn.Sequential(*layers)
        self.linears = [m for m in layers if isinstance(m, mnn.Linear)]
        self.in_out = _mytorch_weight_is_in_out()
        for lin, W, b in zip(self.linears, p.Ws, p.bs, strict=True):
            lin.weight.data = W.copy() if self.in_out else W.T.copy()
            lin.bias.data = b.reshape(lin.bias.shape).copy()
        self.opt = moptim.SGD(self.model.parameters(), lr=lr)

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        logits = self.model(mytorch.Tensor(X))
        loss = mnn.functional.cross_entropy(logits, y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()

    def params(self) -> list[np.ndarray]:
        out = []
        for lin in self.linears:
            w = np.asarray(lin.weight.data)
            out.append(w if self.in_out else w.T)
            out.append(np.asarray(lin.bias.data).reshape(-1))
        return out


# --------------------------------------------------------------------------- torch


class TorchMLP:
    """The same network in PyTorch (CPU), for reference."""

    def __init__(self, p: Problem, lr: float = LR):
        tdtype = torch.float64 if p.dtype == np.float64 else torch.float32
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(p.widths[:-1], p.widths[1:], strict=True)):
            layers.append(torch.nn.Linear(fan_in, fan_out, dtype=tdtype))
            if i < len(p.Ws) - 1:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.linears = [m for m in layers if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for lin, W, b in zip(self.linears, p.Ws, p.bs, strict=True):
                lin.weight.copy_(torch.from_numpy(W.T.copy()))
                lin.bias.copy_(torch.from_numpy(b))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.loss_fn = torch.nn.functional.cross_entropy
        self._cache: tuple | None = None

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        # numpy -> torch conversion is zero-copy; cache it so only the step is timed
        if self._cache is None or self._cache[0] is not X:
            self._cache = (X, torch.from_numpy(X), torch.from_numpy(y))
        _, tX, ty = self._cache
        loss = self.loss_fn(self.model(tX), ty)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.item()

    def params(self) -> list[np.ndarray]:
        out = []
        for lin in self.linears:
            out.append(lin.weight.detach().numpy().T)
            out.append(lin.bias.detach().numpy())
        return out


class TorchWorker:
    """Runs :class:`TorchMLP` in a separate process and times it there on request.

    PyTorch's OpenMP threads and numpy's OpenBLAS threads spin while idle; in one
    process they steal the two cores from each other and both numbers come out
    several times too slow. In a separate process that sits blocked on a pipe while
    the others run (and with ``OMP_WAIT_POLICY=PASSIVE``), neither disturbs the other.
    """

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # inherited by the child only
        self.proc = ctx.Process(target=_torch_worker_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.info: str = self._call("info")

    def load(self, p: Problem, lr: float = LR) -> TorchWorker:
        """(Re)build the torch network for problem ``p`` in the worker; returns self."""
        self._call("init", (p.widths, p.batch, np.dtype(p.dtype).name, p.Ws, p.bs, p.X, p.y), lr)
        return self

    def _call(self, *msg):
        self.conn.send(msg)
        kind, value = self.conn.recv()
        if kind == "error":
            raise RuntimeError(f"torch worker failed:\n{value}")
        return value

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        return self._call("step")

    def params(self) -> list[np.ndarray]:
        return self._call("params")

    def time_block(self, steps: int) -> float:
        return self._call("time", steps)

    def close(self) -> None:
        if self.proc.is_alive():
            self.conn.send(("exit",))
            self.proc.join(timeout=10)
        self.conn.close()


def _torch_worker_main(conn) -> None:
    global torch
    import traceback

    import torch as _torch

    torch = _torch
    impl = None
    while True:
        msg = conn.recv()
        try:
            if msg[0] == "exit":
                break
            elif msg[0] == "info":
                out = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
            elif msg[0] == "init":
                widths, batch, dtype, Ws, bs, X, y = msg[1]
                impl = TorchMLP(Problem(widths, batch, np.dtype(dtype).type, Ws, bs, X, y), msg[2])
                impl.X, impl.y = X, y
                out = None
            elif msg[0] == "step":
                out = impl.step(impl.X, impl.y)
            elif msg[0] == "params":
                out = [np.ascontiguousarray(a) for a in impl.params()]
            elif msg[0] == "time":
                out = time_block(impl, impl.X, impl.y, msg[1])
            else:
                raise ValueError(f"unknown message {msg[0]!r}")
            conn.send(("ok", out))
        except Exception:
            conn.send(("error", traceback.format_exc()))
    conn.close()


# --------------------------------------------------------------------------- checks


def tolerances(dtype) -> dict:
    return {"rtol": 1e-9, "atol": 1e-12} if dtype == np.float64 else {"rtol": 2e-4, "atol": 2e-6}


def cross_check(p: Problem, impls: dict[str, Callable[[Problem], object]]) -> None:
    """Two steps from the same start: every implementation must agree with numpy."""
    ref = NumpyMLP(p)
    ref_losses = [ref.step(p.X, p.y), ref.step(p.X, p.y)]
    ref_params = ref.params()
    moved = max(
        float(np.abs(a - b).max()) for a, b in zip(ref_params, NumpyMLP(p).params(), strict=True)
    )
    assert moved > 0, "the SGD step did not change the parameters"
    for name, make in impls.items():
        if name == "numpy":
            continue
        impl = make(p)
        losses = [impl.step(p.X, p.y), impl.step(p.X, p.y)]
        tol = tolerances(p.dtype)
        np.testing.assert_allclose(
            losses, ref_losses, **tol, err_msg=f"{name} loss differs from numpy"
        )
        got = impl.params()
        assert len(got) == len(
            ref_params
        ), f"{name}: {len(got)} parameters, numpy has {len(ref_params)}"
        for k, (a, b) in enumerate(zip(got, ref_params, strict=True)):
            assert a.shape == b.shape, f"{name} parameter {k}: shape {a.shape} vs {b.shape}"
            assert a.dtype == b.dtype, f"{name} parameter {k}: dtype {a.dtype} vs {b.dtype}"
            np.testing.assert_allclose(
                a, b, **tol, err_msg=f"{name} parameter {k} after 2 SGD steps differs from numpy"
            )


# --------------------------------------------------------------------------- timing


@dataclass
class Result:
    widths: tuple[int, ...]
    batch: int
    dtype: str
    goal: float
    ms: dict[str, float] = field(default_factory=dict)
    ratio: dict[str, float] = field(default_factory=dict)
    steps_per_block: int = 1
    repeats: int = 0
    # minor page faults per step (fresh memory from the kernel); not known for torch's worker
    faults: dict[str, float] = field(default_factory=dict)


def minor_faults() -> int:
    """Minor page faults of this process so far: each is a page of fresh memory from the kernel.

    glibc returns large freed blocks to the kernel and maps fresh zeroed pages for the next
    large array, or keeps them, depending on the order of earlier allocations and frees.
    At the middle and large sizes this alone moves a step by 10-30%, for numpy and
    MyTorch alike, so the table prints it next to the times.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def steady_malloc() -> bool:
    """Make glibc keep freed memory (no trimming, large arrays from the heap); True if done.

    Both implementations then reuse the same warm pages step after step, so the ratio
    measures their work rather than which one the allocator happened to penalise.
    """
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name)
    if not hasattr(libc, "mallopt"):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    ok_trim = libc.mallopt(m_trim_threshold, 1 << 30)
    ok_mmap = libc.mallopt(m_mmap_threshold, 32 << 20)  # glibc's largest allowed value
    return bool(ok_trim and ok_mmap)


def time_block(impl, X, y, steps: int) -> float:
    """Seconds per step, over ``steps`` consecutive steps."""
    if isinstance(impl, TorchWorker):
        return impl.time_block(steps)
    t0 = time.perf_counter()
    for _ in range(steps):
        impl.step(X, y)
    return (time.perf_counter() - t0) / steps


def bench(
    p: Problem, impls: dict, repeats: int, block_s: float, goal: float, warmup: int = 2
) -> Result:
    runners = {name: make(p) for name, make in impls.items()}
    for r in runners.values():  # warm up (allocator, BLAS threads, caches)
        time_block(r, p.X, p.y, warmup)
    t_np = time_block(runners["numpy"], p.X, p.y, warmup)
    steps = max(1, int(block_s / t_np))
    samples: dict[str, list[float]] = {name: [] for name in runners}
    faults = dict.fromkeys(runners, 0)
    names = list(runners)
    for rep in range(repeats):
        order = names if rep % 2 == 0 else names[::-1]  # alternate to cancel drift
        for name in order:
            gc.collect()
            before = minor_faults()
            samples[name].append(time_block(runners[name], p.X, p.y, steps))
            faults[name] += minor_faults() - before
    res = Result(
        p.widths, p.batch, np.dtype(p.dtype).name, goal, steps_per_block=steps, repeats=repeats
    )
    for name, ts in samples.items():
        res.ms[name] = 1e3 * statistics.median(ts)
        if name != "torch":  # the torch worker's faults happen in its own process
            res.faults[name] = faults[name] / (repeats * steps)
        if name != "numpy":
            res.ratio[name] = statistics.median(
                t / t0 for t, t0 in zip(ts, samples["numpy"], strict=True)
            )
    return res


# --------------------------------------------------------------------------- per-op overhead

OVERHEAD_OPS = 200  # ops in the chain (half Mul by a constant, half tanh)
OVERHEAD_VALUES = 16  # float64 values per tensor: small, so the bookkeeping dominates


def mytorch_chain(x0: np.ndarray, c: np.ndarray) -> np.ndarray:
    """OVERHEAD_OPS recorded ops forward, then backward; returns the gradient."""
    x = mytorch.Tensor(x0, requires_grad=True)
    scale = mytorch.Tensor(c)
    y = x
    for _ in range(OVERHEAD_OPS // 2):
        y = (y * scale).tanh()
    y.backward(np.ones_like(x0))
    return x.grad.data


def numpy_tape_chain(x0: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The same chain on a bare numpy tape: a list of (kind, value) and a reverse loop."""
    tape = []
    y = x0
    for _ in range(OVERHEAD_OPS // 2):
        y = y * c
        tape.append(("mul", None))
        y = np.tanh(y)
        tape.append(("tanh", y))
    g = np.ones_like(x0)
    for kind, out in reversed(tape):
        g = g * c if kind == "mul" else g * (1.0 - out * out)
    return g


def per_op_overhead(repeats: int) -> tuple[float, float]:
    """(mytorch, bare numpy tape) microseconds per recorded op, forward plus backward."""
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, OVERHEAD_VALUES)
    c = rng.uniform(0.5, 1.5, OVERHEAD_VALUES)
    np.testing.assert_allclose(mytorch_chain(x0, c), numpy_tape_chain(x0, c), rtol=1e-12)
    samples: dict[str, list[float]] = {"mytorch": [], "numpy": []}
    for _ in range(repeats):
        for name, chain in (("numpy", numpy_tape_chain), ("mytorch", mytorch_chain)):
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(10):
                chain(x0, c)
            samples[name].append((time.perf_counter() - t0) / 10 / OVERHEAD_OPS * 1e6)
    return statistics.median(samples["mytorch"]), statistics.median(samples["numpy"])


# --------------------------------------------------------------------------- main


def fmt_size(widths, batch) -> str:
    return "-".join(map(str, widths)) + f" b{batch}"


def print_table(results: list[Result]) -> None:
    head = (
        f"{'size':<24} {'dtype':<8} {'numpy ms':>9} {'mytorch ms':>11} {'torch ms':>9} "
        f"{'mytorch/np':>11} {'torch/np':>9} {'mt/torch':>9} {'goal':>6}  ok  "
        f"{'faults/step np':>14} {'mt':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        tms = f"{r.ms['torch']:9.3f}" if "torch" in r.ms else f"{'-':>9}"
        trat = f"{r.ratio['torch']:9.2f}" if "torch" in r.ratio else f"{'-':>9}"
        vs_torch = r.ratio["mytorch"] / r.ratio["torch"] if "torch" in r.ratio else None
        vrat = f"{vs_torch:9.2f}" if vs_torch is not None else f"{'-':>9}"
        ok = "yes" if r.ratio["mytorch"] <= r.goal and (vs_torch or 0) < 1 else "NO"
        print(
            f"{fmt_size(r.widths, r.batch):<24} {r.dtype:<8} {r.ms['numpy']:9.3f} "
            f"{r.ms['mytorch']:11.3f} {tms} {r.ratio['mytorch']:11.2f} {trat} {vrat} "
            f"{r.goal:6.2f}  {ok:<3} {r.faults['numpy']:14.0f} {r.faults['mytorch']:6.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 repeats, short blocks")
    ap.add_argument("--repeats", type=int, default=None, help="timed blocks per implementation")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    ap.add_argument("--only", type=int, default=None, help="run only size number N (0, 1, 2)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument(
        "--steady-malloc",
        action="store_true",
        help="glibc: keep freed memory in the process (no page faults from reallocation)",
    )
    args = ap.parse_args(argv)
    if args.steady_malloc and not steady_malloc():
        ap.error("--steady-malloc needs glibc's mallopt (Linux)")

    have_torch = HAVE_TORCH and not args.no_torch
    impls: dict[str, Callable[[Problem], object]] = {"numpy": NumpyMLP, "mytorch": MyTorchMLP}
    worker = None
    if have_torch:
        worker = TorchWorker()
        impls["torch"] = worker.load
    try:
        return _run(args, impls, worker)
    finally:
        if worker is not None:
            worker.close()


def _run(args: argparse.Namespace, impls: dict, worker: TorchWorker | None) -> int:
    repeats = args.repeats or (2 if args.quick else 15)
    block_s = 0.005 if args.quick else 0.06
    warmup = 1 if args.quick else 2
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{worker.info if worker else 'torch -'}" + f", {os.cpu_count()} CPUs, {platform.machine()}"
    )
    print(
        f"one step = forward + softmax cross-entropy + backward + SGD(lr={LR}); "
        f"median of {repeats} interleaved blocks"
        + (", glibc malloc kept steady (--steady-malloc)" if args.steady_malloc else "")
    )

    sizes = SIZES if args.only is None else [SIZES[args.only]]
    # correctness first: no timing is printed for a network that computes something else
    for widths, batch, _ in sizes:
        for dtype in DTYPES:
            cross_check(make_problem(widths, batch, dtype), impls)
    print(
        f"cross-check: OK ({', '.join(n for n in impls if n != 'numpy')} match numpy: "
        "loss and parameters after 2 SGD steps)"
    )
    print()

    results = []
    t_start = time.perf_counter()
    for widths, batch, goal in sizes:
        for dtype in DTYPES:
            p = make_problem(widths, batch, dtype)
            results.append(bench(p, impls, repeats, block_s, goal, warmup))
    print_table(results)
    engine_us, tape_us = per_op_overhead(repeats)
    print(
        f"\nper-op overhead (us per recorded op, forward + backward, a chain of {OVERHEAD_OPS} "
        f"ops on {OVERHEAD_VALUES} float64 values): mytorch {engine_us:.2f}, bare numpy tape "
        f"{tape_us:.2f}, extra {engine_us - tape_us:.2f} ({engine_us / tape_us:.2f}x)"
    )
    print(f"\n(timing took {time.perf_counter() - t_start:.1f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
