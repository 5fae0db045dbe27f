"""The kernel client used to grade: it listens for the kernel's messages in short slices.

A wait on the shell or IOPub channel can miss its wake-up: the kernel's reply is already
in the socket, yet the asyncio poll sleeps on to its timeout (nbclient waits with the
whole cell timeout). On this course's notebooks that cost 30 s, now and then, on a cell
showing widgets, and a missed IOPub wake-up can lose a cell's output. Polling again every
:data:`SLICE` seconds re-checks the socket, so a missed wake-up costs a fraction of a second.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets import Type

SLICE = 0.25  # seconds between two looks at a channel's socket


class SlicedPollChannel(AsyncZMQSocketChannel):
    """A channel whose ``get_msg`` polls in slices of at most :data:`SLICE` seconds."""

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = SLICE if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await super().get_msg(timeout=min(SLICE, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class GradingKernelClient(AsyncKernelClient):
    """nbclient's asynchronous client with the sliced polls on the channels it waits on."""

    shell_channel_class = Type(SlicedPollChannel)
    iopub_channel_class = Type(SlicedPollChannel)
