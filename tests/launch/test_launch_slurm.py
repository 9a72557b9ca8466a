"""The launcher on a real one-node SLURM cluster (slurm/local/up.sh): arrays, failures, requeue, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from bench import follow, launch
from bench.store import Store

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.usefixtures("slurm_jobs_cancelled"),
              pytest.mark.filterwarnings("ignore:pkg_resources is deprecated")]


def _wait_for_step(toy, root, run_id, step, timeout_s=60.0):
    """Block until the run's checkpoint reaches ``step`` (the job is mid-training)."""
    end = time.monotonic() + timeout_s
    while toy.read_step(root, run_id) < step:
        assert time.monotonic() < end, f"run {run_id} did not reach step {step} in {timeout_s} s"
        time.sleep(0.2)


def _sacct_state(job_id):
    out = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id], capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def test_grid_is_one_array_and_leaves_one_record_per_spec(slurm_cluster, toy, make_specs, cluster_profile, tmp_path):
    specs = make_specs(4, steps=3, step_s=0.1)
    root = tmp_path / "results"
    jobs = launch.submit(specs, "slurm", cluster_profile(), tmp_path / "submitit" / "%j", root, fn=toy.ToyJob())
    # (a) one array: the four job ids share the array id, with indices 0..3
    array_ids = {j.job_id.split("_")[0] for j in jobs}
    assert len(array_ids) == 1 and sorted(j.job_id.split("_")[1] for j in jobs) == ["0", "1", "2", "3"]
    # launching again at once (sacct may not know the jobs yet) submits nothing twice
    twice = launch.submit(specs, "slurm", cluster_profile(), tmp_path / "submitit" / "%j", root, fn=toy.ToyJob())
    assert list(twice) == [] and sorted(twice.skipped) == sorted(s.run_id for s in specs)
    assert follow.wait(jobs, progress=False, timeout_s=120) == ["done"] * 4
    # (d) every record is there, once, and each job wrote it exactly once
    store = Store(root)
    assert sorted(r["run_id"] for r in store.records()) == sorted(s.run_id for s in specs)
    for s in specs:
        assert (toy.work_dir(root, s.run_id) / "writes.log").read_text().split() == [s.run_id]
        assert store.read(s.run_id)["metrics"]["steps"] == 3
    assert not list((root / "runs").glob(".*"))  # no temporary file left
    manifest = json.loads(jobs.manifest_path.read_text())
    assert {j["run_id"]: j["job_id"] for j in manifest["jobs"]} == dict(zip(jobs.run_ids, [j.job_id for j in jobs]))
    assert set(follow.job_states(jobs.manifest_path).values()) == {"COMPLETED"}
    # (e) the same specs again: nothing is submitted, no new manifest
    again = launch.submit(specs, "slurm", cluster_profile(), tmp_path / "submitit" / "%j", root, fn=toy.ToyJob())
    assert list(again) == [] and sorted(again.skipped) == sorted(s.run_id for s in specs)
    assert len(follow.manifests(root, "launchtest")) == 1


def test_killed_job_is_failed_and_a_rerun_completes_it(slurm_cluster, toy, make_specs, cluster_profile, tmp_path):
    # (b) SIGKILL mid-training (what the OOM killer does): no result file, sacct must tell
    [spec] = make_specs(1, grid="killtest", steps=12, step_s=0.3)
    root, folder = tmp_path / "results", tmp_path / "submitit" / "%j"
    jobs = launch.submit([spec], "slurm", cluster_profile(), folder, root, fn=toy.ToyJob())
    _wait_for_step(toy, root, spec.run_id, 3)
    # sacct lags the scheduler by a few seconds (slurmdbd is fed asynchronously): PENDING, then RUNNING
    assert follow.job_states(jobs.manifest_path)[spec.run_id] in ("PENDING", "RUNNING")
    # (d) while it runs, launching the grid again does not start a second job for the same run
    again = launch.submit([spec], "slurm", cluster_profile(), folder, root, fn=toy.ToyJob())
    assert list(again) == [] and again.skipped == [spec.run_id]
    os.kill(int((toy.work_dir(root, spec.run_id) / "pid").read_text()), signal.SIGKILL)
    t0 = time.monotonic()
    assert follow.wait(jobs, progress=False, timeout_s=60) == ["failed"]
    detect_s = time.monotonic() - t0
    assert _sacct_state(jobs[0].job_id) == "FAILED"
    assert follow.job_states(jobs.manifest_path)[spec.run_id] == "FAILED"
    assert not Store(root).has(spec.run_id)
    # the rerun submits only what has no record, resumes from the checkpoint and completes
    rerun = launch.submit([spec], "slurm", cluster_profile(), folder, root, fn=toy.ToyJob())
    assert rerun.run_ids == [spec.run_id]
    assert follow.wait(rerun, progress=False, timeout_s=60) == ["done"]
    record = Store(root).read(spec.run_id)
    starts = record["starts"]
    assert len(starts) == 2 and starts[0] == 0 and starts[1] >= 3, starts
    assert record["metrics"]["steps"] == 12
    print(f"\nSIGKILLed job seen as failed {detect_s:.1f} s after the kill")


def test_preempted_and_timed_out_jobs_requeue_and_resume(slurm_cluster, toy, make_specs, cluster_profile, tmp_path):
    # (c) USR2 (preemption, via scancel --signal) and a real time limit, in parallel on the 2 CPUs.
    # submitit calls a USR2 a timeout when the job ran >= min(0.8 limit, limit - 10 min): 60 min = preemption
    root, folder = tmp_path / "results", tmp_path / "submitit" / "%j"
    [pre] = make_specs(1, grid="preempt", steps=30, step_s=0.25)
    # 1 min limit, USR2 "20 s before it": slurmctld checks limits every 30 s and signals at the first
    # check that is within 30 s of the signal time, so 10-40 s into an attempt (a larger delay could
    # signal a job before Python starts); 80 steps x 0.5 s cannot finish in one attempt
    [lim] = make_specs(1, grid="timelimit", steps=80, step_s=0.5)
    pre_jobs = launch.submit([pre], "slurm", cluster_profile(timeout_min=60), folder, root, fn=toy.ToyJob())
    lim_jobs = launch.submit([lim], "slurm", cluster_profile(timeout_min=1, signal_delay_s=20, max_num_timeout=6),
                             folder, root, fn=toy.ToyJob())
    _wait_for_step(toy, root, pre.run_id, 4)
    subprocess.run(["scancel", "--signal=USR2", pre_jobs[0].job_id], check=True)
    assert follow.wait([*pre_jobs, *lim_jobs], progress=False, timeout_s=150) == ["done", "done"]
    store = Store(root)
    for spec, steps in ((pre, 30), (lim, 80)):
        record = store.read(spec.run_id)
        starts = record["starts"]
        # every attempt resumed from the checkpoint the one before left (an attempt signalled before its
        # first step resumes from 0 again), and the last one did not start from scratch
        assert len(starts) >= 2 and starts[0] == 0 and starts[-1] > 0, starts
        assert all(b >= a for a, b in zip(starts, starts[1:])), starts
        assert record["metrics"]["steps"] == steps
        assert (toy.work_dir(root, spec.run_id) / "writes.log").read_text().split() == [spec.run_id]
    log_pre = pre_jobs[0].paths.stderr.read_text() + pre_jobs[0].paths.stdout.read_text()
    log_lim = lim_jobs[0].paths.stderr.read_text() + lim_jobs[0].paths.stdout.read_text()
    pre_starts, lim_starts = store.read(pre.run_id)["starts"], store.read(lim.run_id)["starts"]
    assert "this job is preempted" in log_pre and "Requeued job" in log_pre and pre_starts[1] >= 4
    assert "this job is timed-out" in log_lim and "Requeued job" in log_lim
    print(f"\nresume points: preempted {pre_starts}, timed out {lim_starts}")


def test_two_tasks_form_a_gloo_process_group(slurm_cluster, toy, make_specs, cluster_profile, tmp_path):
    # (f) tasks_per_node=2: RunJob exports SLURM's ranks and joins a gloo group; all_reduce sums 1 + 2
    [spec] = make_specs(1, grid="ddp", steps=2, step_s=0.05)
    root = tmp_path / "results"
    jobs = launch.submit([spec], "slurm", cluster_profile(tasks_per_node=2), tmp_path / "submitit" / "%j", root,
                         fn=toy.ToyJob())
    assert follow.wait(jobs, progress=False, timeout_s=120) == ["done"]
    record = Store(root).read(spec.run_id)
    assert record["metrics"]["world_size"] == 2
    assert record["metrics"]["all_reduce_sum"] == 3.0
    rank0, rank1 = jobs[0].results()  # one result per task: rank 0 returns the record
    assert rank0["run_id"] == spec.run_id and rank1 is None
    lines = (toy.work_dir(root, spec.run_id) / "attempts.log").read_text().split("\n")
    assert sorted(line.split()[0] for line in lines if line) == ["rank0", "rank1"]
    assert (toy.work_dir(root, spec.run_id) / "writes.log").read_text().split() == [spec.run_id]  # rank 0 only


def test_two_grids_sharing_a_cell_run_it_once(slurm_cluster, toy, cluster_profile, tmp_path):
    # issue 15: a cell shared by two grids, launched back to back, is claimed by the first launch
    from bench import claims
    from bench.spec import RunSpec

    root, folder = tmp_path / "results", tmp_path / "submitit" / "%j"
    shared = dict(method="toy", protocol="toy", dataset="toy", overrides={"steps": 6, "step_s": 0.2})
    grid_a = [RunSpec(**shared, seed=0, grid="share_a"), RunSpec(**shared, seed=1, grid="share_a")]
    grid_b = [RunSpec(**shared, seed=0, grid="share_b"), RunSpec(**shared, seed=2, grid="share_b")]
    a = launch.submit(grid_a, "slurm", cluster_profile(), folder, root, fn=toy.ToyJob())
    b = launch.submit(grid_b, "slurm", cluster_profile(), folder, root, fn=toy.ToyJob())
    cell = grid_a[0].run_id
    assert b.run_ids == [grid_b[1].run_id] and b.skipped == [cell]
    held = json.loads(claims.claim_path(root, cell).read_text())
    assert held["job"]["executor"] == "slurm" and held["job"]["job_id"] == a[0].job_id
    assert follow.wait([*a, *b], progress=False, timeout_s=120) == ["done"] * 3
    assert (toy.work_dir(root, cell) / "writes.log").read_text().split() == [cell]
    assert len(toy.attempts(root, cell)) == 1
    assert not list(claims.claims_dir(root).glob("*.json")), "the jobs released their claims"
