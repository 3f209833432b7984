"""Throughput of the job queue: enqueue N no-op jobs, run them with W worker processes.

    ZEGEL_DATABASE_URL=postgresql://postgres@127.0.0.1/bench \
        .venv/bin/python bench/jobs_throughput.py 5000 4

Prints enqueue rate, run rate and claim latency. Uses (and empties) the configured database.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from typing import Any

from sqlalchemy import delete

from shared import db, jobs
from shared.db import session_scope
from shared.migrate import upgrade_database
from shared.models import Job


@jobs.handler("bench.noop")
def _noop(payload: dict[str, Any], context: jobs.JobContext) -> None:
    return None


def _work() -> None:
    db.after_fork()
    jobs.Worker(batch_size=20).run_pending()


def main(count: int, workers: int) -> None:
    upgrade_database()
    with session_scope() as session:
        session.execute(delete(Job).where(Job.kind == "bench.noop"))
    started = time.perf_counter()
    with session_scope() as session:
        for n in range(count):
            jobs.enqueue(session, "bench.noop", {}, key=f"bench:{n}")
    enqueued = time.perf_counter() - started
    db.get_engine().dispose()

    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_work) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    ran = time.perf_counter() - started
    backend = db.get_engine().dialect.name
    print(f"backend            {backend}")
    print(f"jobs               {count}")
    print(f"workers            {workers}")
    print(f"enqueue            {count / enqueued:,.0f} jobs/s ({enqueued:.2f} s)")
    print(f"claim + run + done {count / ran:,.0f} jobs/s ({ran:.2f} s)")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 2000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 2,
    )
