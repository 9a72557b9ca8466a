"""One execution per cell (claims), pid checks that see zombies and reused pids, and files a user did not write."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

from bench import claims, follow, launch
from bench.errors import DataError
from bench.profiles import load_profile
from bench.spec import RunSpec
from bench.store import Store

pytestmark = pytest.mark.filterwarnings("ignore:pkg_resources is deprecated")


def test_a_zombie_and_a_reused_pid_are_not_running():
    assert claims.pid_alive(os.getpid())
    assert claims.pid_alive(os.getpid(), claims.proc_start_time(os.getpid()))
    assert not claims.pid_alive(os.getpid(), claims.proc_start_time(os.getpid()) + 1), "another process, same pid"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    end = time.monotonic() + 30
    while open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < end, "the child did not exit"
        time.sleep(0.05)
    try:
        os.kill(child.pid, 0)  # what the old check asked: a zombie answers it
        assert not claims.pid_alive(child.pid), "a zombie is not running"
    finally:
        child.wait()
    assert not claims.pid_alive(child.pid)


def _claim_at_once(args):
    root, barrier, i = args
    barrier.wait()
    return claims.claim(root, "samecell0000", f"token{i}") is None


def test_concurrent_launchers_claim_a_run_id_once(tmp_path):
    ctx = mp.get_context("fork")
    n = 8
    barrier = ctx.Manager().Barrier(n)
    with ctx.Pool(n) as pool:
        won = pool.map(_claim_at_once, [(tmp_path, barrier, i) for i in range(n)])
    assert sum(won) == 1
    held = json.loads(claims.claim_path(tmp_path, "samecell0000").read_text())
    assert held["token"] == f"token{won.index(True)}"


def test_a_dead_holders_claim_is_taken_over_and_a_live_one_is_not(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path = claims.claim_path(tmp_path, "r1")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"token": "old", "host": os.uname().nodename, "pid": int(dead.stdout), "time": 0}))
    assert claims.claim(tmp_path, "r1", "new") is None
    assert json.loads(path.read_text())["token"] == "new"
    assert list((tmp_path / "claims" / ".released").iterdir()), "the dead claim is kept aside"
    held = claims.claim(tmp_path, "r1", "third")  # this process holds it now: live
    assert held is not None and held["token"] == "new"
    assert claims.release(tmp_path, "r1", "third") is False and path.exists()
    assert claims.release(tmp_path, "r1", "new") is True and not path.exists()


@pytest.mark.slow
def test_two_grids_sharing_a_cell_run_it_once_on_the_local_executor(toy, tmp_path):
    root = tmp_path / "results"
    shared = dict(method="toy", protocol="toy", dataset="toy", overrides={"steps": 10, "step_s": 0.1})
    grid_a = [RunSpec(**shared, seed=0, grid="ga"), RunSpec(**shared, seed=1, grid="ga")]
    grid_b = [RunSpec(**shared, seed=0, grid="gb"), RunSpec(**shared, seed=2, grid="gb")]
    profile = load_profile("local", {"array_parallelism": 2})
    a = launch.submit(grid_a, "local", profile, tmp_path / "sub" / "%j", root, fn=toy.ToyJob())
    b = launch.submit(grid_b, "local", profile, tmp_path / "sub" / "%j", root, fn=toy.ToyJob())
    cell = grid_a[0].run_id
    assert cell == grid_b[0].run_id
    assert b.run_ids == [grid_b[1].run_id] and b.skipped == [cell], "grid b leaves the shared cell to grid a's job"
    assert follow.wait(list(a) + list(b), progress=False, timeout_s=120) == ["done"] * 3
    assert (toy.work_dir(root, cell) / "writes.log").read_text().split() == [cell]
    assert len(toy.attempts(root, cell)) == 1, "one execution"
    assert not list(claims.claims_dir(root).glob("*.json")), "each job released its claim when it ended"
    # launched again: recorded, nothing runs
    again = launch.submit(grid_b, "local", profile, tmp_path / "sub" / "%j", root, fn=toy.ToyJob())
    assert list(again) == [] and sorted(again.skipped) == sorted(s.run_id for s in grid_b)


CANARY_CODE = "import pathlib; pathlib.Path({path!r}).write_text('executed')"


class _Evil:
    def __init__(self, canary):
        self.canary = canary

    def __reduce__(self):
        return (exec, (CANARY_CODE.format(path=str(self.canary)),))


def test_a_planted_manifest_pointing_at_a_pickle_executes_nothing(tmp_path, syn_k400, monkeypatch, capsys):
    from bench.cli import main as bench_main

    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("BENCH_WORK_DIR", str(tmp_path / "work"))
    canary = tmp_path / "canary.txt"
    evil = tmp_path / "elsewhere"
    evil.mkdir()
    for task in ("0", "123_0"):  # submitit's result file names for job 123 and array task 123_0
        with open(evil / f"{task}_result.pkl", "wb") as f:
            pickle.dump(("success", _Evil(canary)), f)
        with open(evil / f"123_{task}_result.pkl", "wb") as f:
            pickle.dump(("success", _Evil(canary)), f)
    grid_file = tmp_path / "g.yaml"
    grid_file.write_text("name: g\nbase: {method: clip_meanpool, protocol: supervised}\n"
                         "profiles: {default: {size: tiny, dataset: syn_k400, executor: local}}\n")
    from bench import grid

    [spec] = grid.load(grid_file).specs
    manifest = {"grid": "g", "executor": "local", "folder": str(evil), "created": "2020-01-01T00:00:00+00:00",
                "jobs": [{"run_id": spec.run_id, "job_id": "123"}], "signature": "0" * 64}
    mdir = tmp_path / "results" / "launches" / "g"
    mdir.mkdir(parents=True)
    (mdir / "20200101T000000Z-local-abc.json").write_text(json.dumps(manifest))
    assert bench_main(["status", str(grid_file)]) == 0
    out = capsys.readouterr().out
    assert "not signed by this user's launcher" in out and "missing" in out
    with pytest.raises(Exception, match="not signed"):
        follow.job_states(mdir / "20200101T000000Z-local-abc.json")
    assert follow.active_run_ids(tmp_path / "results", "g") == set()
    assert not canary.exists(), "nothing from the planted folder was unpickled"
    # the control: the same pickle, unpickled plainly, does run code
    with open(evil / "123_0_result.pkl", "rb") as f:
        pickle.load(f)  # noqa: S301
    assert canary.read_text() == "executed"


@pytest.mark.slow
def test_a_signed_manifest_is_followed(toy, make_specs, tmp_path):
    specs = make_specs(1, grid="signed", steps=1, step_s=0.0)
    jobs = launch.submit(specs, "local", load_profile("local", {"array_parallelism": 1}), tmp_path / "sub" / "%j",
                         tmp_path / "r", fn=toy.ToyJob())
    assert follow.wait(jobs, progress=False, timeout_s=120) == ["done"]
    assert follow.job_states(jobs.manifest_path) == {specs[0].run_id: "COMPLETED"}
    data = json.loads(jobs.manifest_path.read_text())
    data["folder"] = str(tmp_path / "elsewhere")  # an edited manifest is refused
    jobs.manifest_path.write_text(json.dumps(data))
    with pytest.raises(Exception, match="not signed"):
        follow.job_states(jobs.manifest_path)
    assert Store(tmp_path / "r").has(specs[0].run_id)


def test_a_planted_proposals_pickle_executes_nothing(tmp_path):
    from bench.data.ava_files import read_proposals

    good = {"vid1,0902": np.array([[0.1, 0.1, 0.5, 0.9, 0.95]], dtype=np.float32)}
    for protocol in (2, 4, 5):
        path = tmp_path / f"good{protocol}.pkl"
        path.write_bytes(pickle.dumps(good, protocol=protocol))
        out = read_proposals(path)
        assert out.keys() == good.keys() and np.array_equal(out["vid1,0902"], good["vid1,0902"])
    canary = tmp_path / "canary.txt"
    bad = tmp_path / "dense_proposals_val.pkl"
    bad.write_bytes(pickle.dumps({"vid1,0902": _Evil(canary)}))
    with pytest.raises(DataError, match=rf"{bad}.*builtins.exec; refused"):
        read_proposals(bad)
    assert not canary.exists()
    wrong = tmp_path / "list.pkl"
    wrong.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(DataError, match="must hold a dict"):
        read_proposals(wrong)


def test_a_live_local_job_of_a_signed_manifest_is_active_and_a_dead_one_is_not(tmp_path):
    root = tmp_path / "r"
    spec = RunSpec("toy", "toy", "toy", grid="act")

    class Job:  # stands for a submitted local job: its id is a pid
        def __init__(self, pid):
            self.job_id = str(pid)

    launch._write_manifest(root, "act", "local", tmp_path / "sub", {}, [spec], [Job(os.getpid())], [], "tok")
    assert follow.active_run_ids(root, "act") == {spec.run_id}
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    spec2 = RunSpec("toy", "toy", "toy", seed=1, grid="act2")
    launch._write_manifest(root, "act2", "local", tmp_path / "sub", {}, [spec2], [Job(int(dead.stdout))], [], "t2")
    assert follow.active_run_ids(root, "act2") == set()
