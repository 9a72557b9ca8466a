"""The debug (in-process) and local (subprocess) executors, the launch manifest and skip logic."""

from __future__ import annotations

import json

import pytest

from bench import follow, launch
from bench.errors import ConfigError
from bench.profiles import load_profile
from bench.store import Store

pytestmark = pytest.mark.filterwarnings("ignore:pkg_resources is deprecated")


def test_category_groups_slurm_states():
    assert follow.category("COMPLETED") == "done"
    assert follow.category("CANCELLED by 0") == "failed"
    assert follow.category("OUT_OF_MEMORY") == "failed"
    assert follow.category("RUNNING") == "running"
    assert follow.category("REQUEUED") == "pending"
    assert follow.category("PREEMPTED") == "pending"  # comes back when the cluster requeues preempted jobs
    assert follow.category("") == "pending"


def test_debug_executor_runs_in_process_and_records(toy, make_specs, tmp_path):
    specs = make_specs(3, grid="dbg", steps=2, step_s=0.0)
    specs.append(specs[0])  # a duplicate cell is run once
    root = tmp_path / "results"
    jobs = launch.submit(specs, "debug", load_profile("local"), tmp_path / "sub", root, fn=toy.ToyJob())
    assert len(jobs) == 3 and len(set(jobs.run_ids)) == 3
    assert follow.wait(jobs, progress=False) == ["done"] * 3
    assert sorted(r["run_id"] for r in Store(root).records()) == sorted({s.run_id for s in specs})
    states = follow.job_states(jobs.manifest_path)
    assert states == {r: "COMPLETED" for r in jobs.run_ids}
    assert follow.manifests(root) == [jobs.manifest_path]
    # skip existing: nothing left to do, no manifest written
    again = launch.submit(specs, "debug", load_profile("local"), tmp_path / "sub", root, fn=toy.ToyJob())
    assert list(again) == [] and again.manifest_path is None and len(again.skipped) == 3
    # redo on request
    redo = launch.submit(specs[:1], "debug", load_profile("local"), tmp_path / "sub", root, fn=toy.ToyJob(),
                         skip_existing=False)
    assert redo.run_ids == [specs[0].run_id]


def test_debug_executor_reports_a_failing_job(toy, make_specs, tmp_path):
    [spec] = make_specs(1, grid="dbgfail", **{"raise": True})
    jobs = launch.submit([spec], "debug", load_profile("local"), tmp_path / "sub", tmp_path / "r", fn=toy.ToyJob())
    assert follow.wait(jobs, progress=False) == ["failed"]
    with pytest.raises(RuntimeError, match="toy failure"):
        jobs[0].result()
    assert follow.job_states(jobs.manifest_path) == {spec.run_id: "FAILED"}


@pytest.mark.slow
def test_local_executor_runs_an_array_as_processes(toy, make_specs, tmp_path):
    specs = make_specs(2, grid="loc", steps=2, step_s=0.05)
    root = tmp_path / "results"
    profile = load_profile("local", {"array_parallelism": 2})  # one process per spec
    jobs = launch.submit(specs, "local", profile, tmp_path / "sub" / "%j", root, fn=toy.ToyJob())
    assert follow.wait(jobs, progress=False, timeout_s=120) == ["done", "done"]
    for spec, job in zip(specs, jobs):
        record = Store(root).read(spec.run_id)
        assert record["metrics"]["steps"] == 2
        assert job.result()["run_id"] == spec.run_id
    manifest = json.loads(jobs.manifest_path.read_text())
    assert manifest["executor"] == "local" and [j["job_id"] for j in manifest["jobs"]] == [j.job_id for j in jobs]
    assert set(follow.job_states(jobs.manifest_path).values()) == {"COMPLETED"}


def test_local_executor_caps_parallelism_by_sharing_processes(toy, make_specs, tmp_path):
    """submitit's local executor has no cap; with array_parallelism=1 one process runs every spec in turn."""
    specs = make_specs(3, grid="cap", steps=1, step_s=0.01)
    root = tmp_path / "results"
    profile = load_profile("local", {"array_parallelism": 1})
    jobs = launch.submit(specs, "local", profile, tmp_path / "sub" / "%j", root, fn=toy.ToyJob())
    assert len({j.job_id for j in jobs}) == 1 and len(jobs) == 3
    assert follow.wait(jobs, progress=False, timeout_s=120) == ["done"] * 3
    assert jobs[0].result() == [s.run_id for s in specs]
    assert all(Store(root).has(s.run_id) for s in specs)
    again = launch.submit(specs, "local", profile, tmp_path / "sub" / "%j", root, fn=toy.ToyJob())
    assert len(again) == 0 and len(again.skipped) == 3


def test_unknown_executor_is_refused(make_specs, tmp_path):
    with pytest.raises(ConfigError, match="accepted: debug, local, slurm"):
        launch.submit(make_specs(1), "kubernetes", load_profile("local"), tmp_path, tmp_path)


def test_slurm_parameters_follow_the_profile():
    p = load_profile("paper_multigpu", {"qos": "high", "additional_parameters": {"mail-type": "FAIL"}})
    params = launch._slurm_parameters(p)
    assert params["gpus_per_node"] == 4 and params["tasks_per_node"] == 4 and params["mem_gb"] == 256
    assert params["timeout_min"] == 1440 and params["slurm_partition"] == "gpu" and params["slurm_qos"] == "high"
    assert params["slurm_additional_parameters"] == {"mail-type": "FAIL"}
    assert "slurm_account" not in params  # unset fields are not passed to sbatch
    cpu = launch._slurm_parameters(load_profile("local_cluster"))
    assert "gpus_per_node" not in cpu and cpu["slurm_array_parallelism"] == 2


def test_slurm_executor_writes_the_sbatch_options(tmp_path):
    # the sbatch script submitit would send, without a cluster: checks the mapping end to end
    ex = launch.make_executor("slurm", load_profile("paper", {"account": "proj1", "setup": ["module load cuda"]}),
                              tmp_path)
    script = ex._executor._make_submission_file_text("python -m x", "UID")
    for line in ("--gpus-per-node=1", "--cpus-per-task=10", "--mem=64GB", "--time=1440", "--partition=gpu",
                 "--account=proj1", "--signal=USR2@120", "--ntasks-per-node=1", "module load cuda"):
        assert line in script, line
