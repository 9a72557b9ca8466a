"""Producers and consumers on the local SLURM cluster: afterok dependencies, a killed producer, a rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from bench import artefacts, follow, launch
from bench.store import Store

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.usefixtures("slurm_jobs_cancelled"),
              pytest.mark.filterwarnings("ignore:pkg_resources is deprecated")]


@pytest.fixture
def art_root(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_ARTEFACTS", str(tmp_path / "artefacts"))  # sbatch passes it on to the jobs
    return tmp_path / "artefacts"


def _squeue(job_id: str, fmt: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", job_id, "-o", fmt], capture_output=True, text=True).stdout.strip()


def _with_needs(specs, needs, **extra):
    return [s.__class__(**{**s.to_dict(), "overrides": {**s.overrides, "needs": n, **extra}})
            for s, n in zip(specs, needs)]


def test_consumers_pend_on_their_producers_job_ids(slurm_cluster, toy, make_specs, cluster_profile, tmp_path,
                                                   art_root):
    root, folder = tmp_path / "results", tmp_path / "submitit" / "%j"
    specs = _with_needs(make_specs(3, grid="slprod", steps=1, step_s=0.0), (["a"], ["a", "b"], []), produce_s=4.0)
    kw = dict(fn=toy.ToyConsumer(), needs=toy.toy_needs, producer_fn=toy.ToyProducer(root))
    jobs = launch.submit(specs, "slurm", cluster_profile(), folder, root, **kw)
    a, b = toy.toy_needs(specs[1])
    pa, pb = (str(jobs.producers.jobs[x.key].job_id) for x in (a, b))
    assert pa.split("_")[0] == pb.split("_")[0]  # the producers are one array
    # while the producers run, SLURM holds each consumer on exactly its producers' job ids
    dep0, dep1 = _squeue(jobs[0].job_id, "%E"), _squeue(jobs[1].job_id, "%E")
    assert pa in dep0 and pb not in dep0, dep0
    assert pa in dep1 and pb in dep1, dep1
    assert _squeue(jobs[0].job_id, "%r") == "Dependency"
    assert follow.wait(jobs, progress=False, timeout_s=180, run_ids=jobs.run_ids, store_root=root) == ["done"] * 3
    store = Store(root)
    assert [x["key"] for x in store.read(specs[1].run_id)["artefacts"]] == [a.key, b.key]
    assert store.read(specs[1].run_id)["artefacts"][0]["producer_slurm_job_id"] == pa
    assert sorted(line.split()[0] for line in toy.producer_log(root).read_text().splitlines()) == sorted([a.key, b.key])
    # a second grid that needs the same artefact submits no producer
    [other] = _with_needs(make_specs(1, grid="slprod2", steps=1, step_s=0.0, extra=1), (["b"],))
    again = launch.submit([other], "slurm", cluster_profile(), folder, root, **kw)
    assert again.producers.jobs == {}
    assert follow.wait(again, progress=False, timeout_s=120, run_ids=again.run_ids, store_root=root) == ["done"]
    assert len(toy.producer_log(root).read_text().splitlines()) == 2


def test_killed_producer_fails_its_consumers_and_a_rerun_completes(slurm_cluster, toy, make_specs, cluster_profile,
                                                                    tmp_path, art_root):
    from bench.cli import status

    root, folder = tmp_path / "results", tmp_path / "submitit" / "%j"
    specs = _with_needs(make_specs(2, grid="slkill", steps=1, step_s=0.0), (["k"], ["k"]), produce_s=60.0)
    jobs = launch.submit(specs, "slurm", cluster_profile(), folder, root, fn=toy.ToyConsumer(), needs=toy.toy_needs,
                         producer_fn=toy.ToyProducer(root))
    end = time.monotonic() + 60
    while not toy.producer_log(root).exists():
        assert time.monotonic() < end, "the producer did not start"
        time.sleep(0.2)
    os.kill(int(toy.producer_log(root).read_text().split()[1]), signal.SIGKILL)  # what the OOM killer does
    # afterok can never be met: SLURM cancels the consumers (--kill-on-invalid-dep=yes)
    assert follow.wait(jobs, progress=False, timeout_s=120, run_ids=jobs.run_ids, store_root=root) == ["failed"] * 2
    [k] = toy.toy_needs(specs[0])
    assert not k.done()
    states = artefacts.producer_states(follow.manifests(root, "slkill"))
    assert states[k.key]["state"] == "failed" and "killed" in states[k.key]["error"]
    for s in specs:  # bench status names the producer's error for each consumer
        assert k.key in status._producer_error(s.run_id, type("G", (), {"name": "slkill"}), Store(root), states)
    # the rerun submits the producer again, then the consumers; one record each
    rerun = launch.submit(specs, "slurm", cluster_profile(), folder, root, fn=toy.ToyConsumer(), needs=toy.toy_needs,
                          producer_fn=toy.ToyProducer(root, quick=True))
    assert list(rerun.producers.jobs) == [k.key] and sorted(rerun.run_ids) == sorted(s.run_id for s in specs)
    assert follow.wait(rerun, progress=False, timeout_s=180, run_ids=rerun.run_ids, store_root=root) == ["done"] * 2
    assert k.done()
    for s in specs:
        assert (toy.work_dir(root, s.run_id) / "writes.log").read_text().split() == [s.run_id]
    manifest = json.loads(rerun.manifest_path.read_text())
    assert [j["consumes"] for j in manifest["jobs"]] == [[k.key], [k.key]]


def test_a_second_grid_depends_on_the_running_producer_of_the_first(slurm_cluster, toy, make_specs, cluster_profile,
                                                                    tmp_path, art_root):
    root, folder = tmp_path / "results", tmp_path / "submitit" / "%j"
    kw = dict(fn=toy.ToyConsumer(), needs=toy.toy_needs, producer_fn=toy.ToyProducer(root))
    [first] = _with_needs(make_specs(1, grid="slg1", steps=1, step_s=0.0), (["z"],), produce_s=5.0)
    [second] = _with_needs(make_specs(1, grid="slg2", steps=1, step_s=0.0, extra=3), (["z"],), produce_s=5.0)
    one = launch.submit([first], "slurm", cluster_profile(), folder, root, **kw)
    two = launch.submit([second], "slurm", cluster_profile(), folder, root, **kw)
    [(key, job)] = one.producers.jobs.items()
    assert str(two.producers.jobs[key].job_id) == str(job.job_id)
    assert str(job.job_id) in _squeue(two[0].job_id, "%E")  # the second grid's cell waits on the first's producer
    for jobs in (one, two):
        assert follow.wait(jobs, progress=False, timeout_s=180, run_ids=jobs.run_ids, store_root=root) == ["done"]
    assert len(toy.producer_log(root).read_text().splitlines()) == 1
