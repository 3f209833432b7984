"""pyHanko's coroutines run from synchronous code, also where an event loop is running."""

from __future__ import annotations

import asyncio
import threading

from shared.pdf.aio import run


async def _thread_name() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


def test_without_a_running_loop_it_runs_here() -> None:
    # On a fresh thread: the browser tests may leave a loop running on the main one.
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(run(_thread_name())), name="plain")
    thread.start()
    thread.join()
    assert seen == ["plain"]


def test_inside_a_running_loop_it_runs_on_a_helper_thread() -> None:
    async def caller() -> str:
        return run(_thread_name())

    # On a fresh thread, so that the test owns the loop that is running.
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(asyncio.run(caller())), name="looping")
    thread.start()
    thread.join()
    assert len(seen) == 1
    assert seen[0].startswith("pyhanko")
