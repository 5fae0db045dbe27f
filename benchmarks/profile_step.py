"""Where does a MyTorch training step spend its time? cProfile it next to numpy.

Runs the networks of ``train_step.py`` under cProfile and prints, for one size and
dtype, the per-step time of the hand-written numpy step and of the MyTorch step, their
difference (the engine's overhead), and the MyTorch functions with the most *own*
time per step. Numpy's C functions show up under their own names
(``{method 'reduce' ...}``, ``{built-in method numpy...}``), so array work that numpy's
reference does not do is visible too.

Usage::

    python benchmarks/profile_step.py --size 0 --dtype float64 --steps 2000
    python benchmarks/profile_step.py --size 2 --dtype float32 --steps 20
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_step as ts  # noqa: E402


def per_step(impl, p, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        impl.step(p.X, p.y)
    return (time.perf_counter() - t0) / steps


def phases(ref, mt, p, steps: int, rounds: int = 5) -> None:
    """Median time of each phase of a step, numpy next to mytorch (no profiler)."""
    Tensor, F = ts.mytorch.Tensor, ts.mnn.functional
    names = ("forward+loss", "zero_grad", "backward", "SGD step")
    t_np = {k: [] for k in names}
    t_mt = {k: [] for k in names}
    clock = time.perf_counter
    for _ in range(rounds):
        acc_np = dict.fromkeys(names, 0.0)
        acc_mt = dict.fromkeys(names, 0.0)
        for _ in range(steps):
            t0 = clock()
            _, cache = ref.forward(p.X, p.y)
            t1 = clock()
            grads = ref.backward(cache)
            t2 = clock()
            ref.update(*grads)
            t3 = clock()
            acc_np["forward+loss"] += t1 - t0
            acc_np["backward"] += t2 - t1
            acc_np["SGD step"] += t3 - t2
            t0 = clock()
            loss = F.cross_entropy(mt.model(Tensor(p.X)), p.y)
            t1 = clock()
            mt.opt.zero_grad()
            t2 = clock()
            loss.backward()
            t3 = clock()
            mt.opt.step()
            t4 = clock()
            acc_mt["forward+loss"] += t1 - t0
            acc_mt["zero_grad"] += t2 - t1
            acc_mt["backward"] += t3 - t2
            acc_mt["SGD step"] += t4 - t3
        for k in names:
            t_np[k].append(acc_np[k] / steps)
            t_mt[k].append(acc_mt[k] / steps)
    print(f"\n=== phases (median of {rounds} rounds of {steps} steps, us/step)")
    print(f"{'phase':<14} {'numpy':>10} {'mytorch':>10} {'extra':>10}")
    tot_np = tot_mt = 0.0
    for k in names:
        a, b = 1e6 * statistics.median(t_np[k]), 1e6 * statistics.median(t_mt[k])
        tot_np, tot_mt = tot_np + a, tot_mt + b
        print(f"{k:<14} {a:10.1f} {b:10.1f} {b - a:+10.1f}")
    print(f"{'total':<14} {tot_np:10.1f} {tot_mt:10.1f} {tot_mt - tot_np:+10.1f}")


class _Timers:
    """Wraps functions with a clock and sums their time (nested time is subtracted)."""

    def __init__(self) -> None:
        self.own: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[float] = []  # time spent in nested timed calls, per open call
        self._undo: list = []

    def wrap(self, owner, attr: str, label: str) -> None:
        original = owner.__dict__[attr]
        clock, timers = time.perf_counter, self

        def timed(*args, **kwargs):
            timers._stack.append(0.0)
            t0 = clock()
            try:
                return original(*args, **kwargs)
            finally:
                spent = clock() - t0
                nested = timers._stack.pop()
                timers.own[label] = timers.own.get(label, 0.0) + spent - nested
                timers.calls[label] = timers.calls.get(label, 0) + 1
                if timers._stack:
                    timers._stack[-1] += spent

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    def undo(self) -> None:
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)


def breakdown(mt, p, steps: int, rounds: int = 5) -> None:
    """Where each microsecond of a MyTorch step goes (own time of each part, no profiler).

    Each part is timed with ``perf_counter`` around the call; time spent in a timed part
    nested inside another is counted once, in the inner part. The timers themselves add
    about 0.2 us per timed call (the "calls" column says how many).
    """
    from mytorch import autograd, optim, recording
    from mytorch.nn import Linear, Module, ReLU, functional
    from mytorch.ops import base, linalg, reduction, shape

    ops = ts.mytorch.ops
    best: dict[str, float] = {}
    calls: dict[str, int] = {}
    for _ in range(rounds):
        timers = _Timers()
        timers.wrap(ts.MyTorchMLP, "step", "step: the rest (Tensor(X), loss.item(), calls)")
        timers.wrap(Module, "__call__", "forward: Module.__call__ / forward (Python)")
        timers.wrap(Linear, "forward", "forward: Module.__call__ / forward (Python)")
        timers.wrap(ReLU, "forward", "forward: Module.__call__ / forward (Python)")
        timers.wrap(base.Op, "__call__", "Op.__call__ (lift, wrap, record)")
        timers.wrap(recording.OperationList, "add_operation", "Op.__call__: add_operation")
        for cls in (linalg.Affine, ops.ReLU, functional.SoftmaxCrossEntropy):
            timers.wrap(cls, "compute", f"compute: {cls.__name__}")
        for cls in (linalg.MatMul, shape.Transpose, reduction.Sum, ops.Mul):
            timers.wrap(cls, "compute", f"compute: {cls.__name__} (inside gradients)")
        for cls in (linalg.Affine, ops.ReLU, functional.SoftmaxCrossEntropy):
            timers.wrap(cls, "gradient", f"gradient(): {cls.__name__} (Python)")
        timers.wrap(autograd, "checked_gradients", "backward: checked_gradients")
        timers.wrap(autograd, "reverse_walk", "backward: reverse walk, buffer, deliver")
        timers.wrap(autograd, "seed_gradient", "backward: seed_gradient")
        timers.wrap(autograd, "all_finite", "backward: NaN/inf check of leaf gradients")
        timers.wrap(autograd, "backward", "backward: the rest (leaf .grad, calls)")
        timers.wrap(optim.SGD, "zero_grad", "optimizer: zero_grad")
        timers.wrap(optim.SGD, "step", "optimizer: SGD step")
        try:
            for _ in range(steps):
                mt.step(p.X, p.y)
        finally:
            timers.undo()
        for label, seconds in timers.own.items():
            us = 1e6 * seconds / steps
            best[label] = min(best.get(label, us), us)
            calls[label] = timers.calls[label] // steps
    total = sum(best.values())
    print(f"\n=== where a MyTorch step's time goes (own time, best of {rounds} rounds of {steps})")
    print(f"{'us/step':>8} {'share':>6} {'calls':>5}  part")
    for label, us in sorted(best.items(), key=lambda kv: -kv[1]):
        print(f"{us:8.1f} {us / total:6.1%} {calls[label]:5d}  {label}")
    print(f"{total:8.1f} {1:6.0%}        total (timers included)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=0, help="index into train_step.SIZES")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--steps", type=int, default=None, help="profiled steps")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)

    widths, batch, goal = ts.SIZES[args.size]
    p = ts.make_problem(widths, batch, np.dtype(args.dtype).type)
    steps = args.steps or (2000, 200, 10)[min(args.size, 2)]
    ref, mt = ts.NumpyMLP(p), ts.MyTorchMLP(p)
    for impl in (ref, mt):
        per_step(impl, p, 3)
    # plain timings, alternated, before profiling (cProfile slows Python code down)
    t_np = min(per_step(ref, p, steps) for _ in range(3))
    t_mt = min(per_step(mt, p, steps) for _ in range(3))
    print(f"{ts.fmt_size(widths, batch)} {args.dtype}: numpy {1e3 * t_np:.3f} ms/step, ", end="")
    print(f"mytorch {1e3 * t_mt:.3f} ms/step, ratio {t_mt / t_np:.2f} (goal {goal:.2f}), ", end="")
    print(f"overhead {1e6 * (t_mt - t_np):.1f} us/step")

    phases(ref, mt, p, steps)
    breakdown(mt, p, steps)

    for name, impl in (("numpy reference", ref), ("mytorch", mt)):
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(steps):
            impl.step(p.X, p.y)
        prof.disable()
        stats = pstats.Stats(prof)
        print(f"\n=== {name}: top {args.top} by own time, per step (profiled, {steps} steps)")
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)
        print(f"{'own us/step':>12} {'cum us/step':>12} {'calls/step':>11}  function")
        for (file, line, func), (_cc, ncalls, tottime, cumtime, _) in rows[: args.top]:
            where = f"{Path(file).name}:{line}({func})" if file != "~" else func
            print(
                f"{1e6 * tottime / steps:12.1f} {1e6 * cumtime / steps:12.1f} "
                f"{ncalls / steps:11.1f}  {where}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
