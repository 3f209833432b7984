"""Run pyHanko's coroutines from synchronous code.

Zegel's services are synchronous (the web apps run them in a thread pool). pyHanko's API is
asynchronous underneath; its synchronous wrappers call `asyncio.run`, which fails in a thread
where an event loop is already running. `run()` works in both cases: on a thread without a
running loop directly, otherwise on a short-lived helper thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyhanko") as executor:
        return executor.submit(asyncio.run, coroutine).result()
