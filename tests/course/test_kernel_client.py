"""The grading kernel client: a missed wake-up on a channel costs a slice, not the timeout."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from queue import Empty
from typing import Any

import pytest
from jupyter_client.channels import AsyncZMQSocketChannel

from mytorch_course import kernel_client
from mytorch_course.kernel_client import SlicedPollChannel
from mytorch_course.sandbox import SandboxKernelManager

REPLY = {"msg_type": "execute_reply", "parent_header": {"msg_id": "m1"}}


def missed_wake_up() -> Any:
    """Stands in for the socket poll: the reply is there from the start, but the first
    wait sleeps through its whole timeout and reports nothing (the bug seen in grading)."""
    calls = []

    async def get_msg(channel: Any, timeout: float | None = None) -> dict:
        calls.append(timeout)
        if len(calls) == 1:
            await asyncio.sleep(timeout if timeout is not None else 3600)
            raise Empty
        return REPLY

    return get_msg


def _timed_get(timeout: float | None) -> tuple[Any, float]:
    channel = SlicedPollChannel.__new__(SlicedPollChannel)  # no socket: get_msg is stubbed

    async def get() -> Any:
        try:
            return await channel.get_msg(timeout=timeout)
        except Empty:
            return Empty

    start = time.monotonic()
    # A thread of its own: an earlier test of this worker may have left a loop running here.
    with ThreadPoolExecutor(1) as thread:
        got = thread.submit(asyncio.run, get()).result()
    return got, time.monotonic() - start


def test_a_reply_after_a_missed_wake_up_comes_within_a_slice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", missed_wake_up())
    got, seconds = _timed_get(timeout=30)
    assert got == REPLY
    assert seconds < 1.0  # one slice (0.25 s) lost, not the 30 s timeout


def test_the_timeout_still_holds_when_nothing_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(channel: Any, timeout: float | None = None) -> dict:
        await asyncio.sleep(timeout or 0)
        raise Empty

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", never)
    monkeypatch.setattr(kernel_client, "SLICE", 0.05)
    got, seconds = _timed_get(timeout=0.4)
    assert got is Empty
    assert 0.35 < seconds < 1.5


def test_the_grading_kernel_manager_hands_out_the_sliced_client() -> None:
    client = SandboxKernelManager().client()
    assert isinstance(client.shell_channel, SlicedPollChannel)
    assert isinstance(client.iopub_channel, SlicedPollChannel)
