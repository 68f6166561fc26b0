"""Every process pool's workers end with the process that started the pool, however it ends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent("""
    import multiprocessing, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from intake.pool import end_with_owner

    def pid(_: int) -> int:
        time.sleep(0.05)
        return os.getpid()

    if __name__ == "__main__":
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=end_with_owner, initargs=(os.getpid(),))
        print(" ".join(str(p) for p in sorted(set(pool.map(pid, range(8))))), flush=True)
        os._exit(0)  # gone without shutting the pool down (a SIGKILL, an abrupt exit)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return f.read().rpartition(")")[2].split()[0] != "Z"


def test_a_pools_workers_end_when_the_process_that_started_it_is_gone(tmp_path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(SCRIPT, encoding="utf-8")
    printed = tmp_path / "pids.txt"
    with printed.open("w") as out:  # not a pipe: the workers would hold it open
        owner = subprocess.Popen([sys.executable, str(script)], stdout=out,
                                 stderr=subprocess.STDOUT, cwd=os.getcwd(),
                                 env={**os.environ, "PYTHONPATH": os.getcwd()})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and owner.poll() is None:
            time.sleep(0.1)  # not reaped at once: a zombie owner is gone as well
    assert owner.wait(5) == 0, printed.read_text()
    workers = [int(p) for p in printed.read_text().split()]
    assert workers
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers), workers
