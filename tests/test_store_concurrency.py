"""Many processes writing records into one results directory at once: all land whole, nothing half-written."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from bench.store import REQUIRED_FIELDS, Store

N = 64


def _write(args):
    root, i, barrier = args
    barrier.wait()  # everyone writes at the same moment
    record = {"run_id": f"run{i:03d}", "method": "m", "protocol": "p", "dataset": "d", "seed": i,
              "metrics": {"top1": i / N}, "spec": {"seed": i}, "schema_version": 1,
              "padding": "x" * 20_000}  # big enough that a non-atomic write would be seen half-done
    Store(root).write(record)
    # and a second writer of the same run (a requeued job finishing late) must not corrupt it
    Store(root).write({**record, "metrics": {"top1": i / N, "again": True}})


@pytest.mark.slow
def test_concurrent_writers_leave_only_whole_records(tmp_path):
    ctx = mp.get_context("fork")
    barrier = ctx.Manager().Barrier(N)
    procs = [ctx.Process(target=_write, args=((tmp_path, i, barrier),)) for i in range(N)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    files = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert files == [f"run{i:03d}.json" for i in range(N)]  # no temporary or partial file left
    for i, rec in enumerate(Store(tmp_path).records()):
        assert all(k in rec for k in REQUIRED_FIELDS) and rec["seed"] == i and rec["metrics"]["again"] is True
    assert all(json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*.json"))
