"""Producer/consumer artefacts (bench.artefacts) through the launcher: debug and local executors."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from bench import artefacts, follow, launch
from bench.profiles import load_profile
from bench.store import Store

pytestmark = pytest.mark.filterwarnings("ignore:pkg_resources is deprecated")


@pytest.fixture
def art_root(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_ARTEFACTS", str(tmp_path / "artefacts"))
    return tmp_path / "artefacts"


def _producer_runs(toy, root) -> list[str]:
    path = toy.producer_log(root)
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def _writes(toy, root, run_id) -> int:
    path = toy.work_dir(root, run_id) / "writes.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_artefact_key_hashes_identity_only(art_root):
    a = artefacts.Artefact("toy.part", "a", {"x": 1}, job={"anything": 1})
    assert a.key == artefacts.Artefact("toy.part", "a", {"x": 1}, job={"other": 2}).key
    assert a.key != artefacts.Artefact("toy.part", "a", {"x": 2}).key
    assert a.path.parent == art_root / "toy.part" and not a.done()
    with pytest.raises(artefacts.ArtefactError, match="never produced"):
        artefacts.require([a])


def test_debug_runs_each_producer_once_before_its_consumers(toy, make_specs, tmp_path, art_root, capsys):
    root = tmp_path / "results"
    specs = make_specs(3, grid="prod", steps=1, step_s=0.0)
    specs = [s.__class__(**{**s.to_dict(), "overrides": {**s.overrides, "needs": n}})
             for s, n in zip(specs, (["a"], ["a", "b"], []))]
    kw = dict(fn=toy.ToyConsumer(), needs=toy.toy_needs, producer_fn=toy.ToyProducer(root))
    jobs = launch.submit(specs, "debug", load_profile("local"), tmp_path / "sub", root, **kw)
    assert follow.wait(jobs, progress=False) == ["done"] * 3
    a, b = toy.toy_needs(specs[1])
    assert sorted(_producer_runs(toy, root)) == sorted([a.key, b.key])  # 2 producers for 3 consumers
    store = Store(root)
    assert [x["key"] for x in store.read(specs[1].run_id)["artefacts"]] == [a.key, b.key]
    assert store.read(specs[0].run_id)["values"] == ["a"]
    manifest = json.loads(jobs.manifest_path.read_text())
    assert {p["key"] for p in manifest["producers"]} == {a.key, b.key}
    assert [j["consumes"] for j in manifest["jobs"]] == [[a.key], [a.key, b.key], []]
    assert {k: v["state"] for k, v in artefacts.producer_states([jobs.manifest_path]).items()} == {
        a.key: "done", b.key: "done"}
    from bench.cli import status

    status.show_producers(type("Grid", (), {"name": "prod"}), store)  # what `bench status` prints first
    out = capsys.readouterr().out
    assert "producers (2):" in out and f"done      toy.part a  {a.key}" in out
    # a second grid needing the same artefact submits no producer
    [other] = make_specs(1, grid="other", steps=1, step_s=0.0, needs=["a"], extra=1)
    again = launch.submit([other], "debug", load_profile("local"), tmp_path / "sub", root, **kw)
    assert follow.wait(again, progress=False) == ["done"] and again.producers.jobs == {}
    assert len(_producer_runs(toy, root)) == 2
    assert store.read(other.run_id)["artefacts"][0]["key"] == a.key


def test_failed_producer_fails_its_consumers_and_a_rerun_retries_only_what_is_missing(
        toy, make_specs, tmp_path, art_root, capsys):
    root = tmp_path / "results"
    specs = make_specs(3, grid="fail", steps=1, step_s=0.0)
    specs = [s.__class__(**{**s.to_dict(), "overrides": {**s.overrides, "needs": n}})
             for s, n in zip(specs, (["a"], ["b"], ["a", "b"]))]
    profile = load_profile("local")
    bad = toy.ToyProducer(root, fail=("b",))
    jobs = launch.submit(specs, "debug", profile, tmp_path / "sub", root, fn=toy.ToyConsumer(), needs=toy.toy_needs,
                         producer_fn=bad)
    assert follow.wait(jobs, progress=False) == ["done", "failed", "failed"]
    store = Store(root)
    for s in specs[1:]:
        assert "toy producer failure for b" in store.failure(s.run_id)["error"]
    a, b = toy.toy_needs(specs[2])
    assert "toy producer failure for b" in b.failure()["error"] and not b.done()
    states = artefacts.producer_states(follow.manifests(root, "fail"))
    assert states[b.key]["state"] == "failed" and "toy producer failure" in states[b.key]["error"]
    from bench.cli import status

    status.show_producers(type("Grid", (), {"name": "fail"}), store)
    out = capsys.readouterr().out
    assert f"failed    toy.part b  {b.key}" in out and "error: RuntimeError: toy producer failure for b" in out
    # rerun: only b's producer and the two failed consumers run; no record is written twice
    runs_before = _producer_runs(toy, root)
    jobs2 = launch.submit(specs, "debug", profile, tmp_path / "sub", root, fn=toy.ToyConsumer(), needs=toy.toy_needs,
                          producer_fn=toy.ToyProducer(root))
    assert sorted(jobs2.run_ids) == sorted(s.run_id for s in specs[1:])
    assert follow.wait(jobs2, progress=False) == ["done", "done"]
    assert _producer_runs(toy, root)[len(runs_before):] == [b.key]
    assert all(_writes(toy, root, s.run_id) == 1 for s in specs)
    assert b.failure() is None and b.done()


@pytest.mark.slow
def test_local_consumers_wait_for_their_producer_process(toy, make_specs, tmp_path, art_root):
    root = tmp_path / "results"
    specs = [s.__class__(**{**s.to_dict(), "overrides": {**s.overrides, "needs": ["a"], "produce_s": 2.0}})
             for s in make_specs(2, grid="locprod", steps=1, step_s=0.0)]
    profile = load_profile("local", {"array_parallelism": 2})
    jobs = launch.submit(specs, "local", profile, tmp_path / "sub" / "%j", root, fn=toy.ToyConsumer(),
                         needs=toy.toy_needs, producer_fn=toy.ToyProducer(root))
    assert follow.wait(jobs, progress=False, timeout_s=120, run_ids=jobs.run_ids, store_root=root) == ["done"] * 2
    [a] = toy.toy_needs(specs[0])
    made = a.manifest()["times"]["finished"]
    for s in specs:  # each consumer started (its first attempt) after the producer finished
        start = (toy.work_dir(root, s.run_id) / "attempts.log").stat().st_mtime
        assert start >= made, (start, made)
    assert len(_producer_runs(toy, root)) == 1


@pytest.mark.slow
def test_killed_local_producer_fails_its_consumers_then_a_rerun_recovers(toy, make_specs, tmp_path, art_root):
    root = tmp_path / "results"
    specs = [s.__class__(**{**s.to_dict(), "overrides": {**s.overrides, "needs": ["a"], "produce_s": 60.0}})
             for s in make_specs(2, grid="kill", steps=1, step_s=0.0)]
    profile = load_profile("local", {"array_parallelism": 2})
    kw = dict(fn=toy.ToyConsumer(), needs=toy.toy_needs, producer_fn=toy.ToyProducer(root))
    jobs = launch.submit(specs, "local", profile, tmp_path / "sub" / "%j", root, **kw)
    deadline = time.monotonic() + 60
    while not toy.producer_log(root).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    pid = int(toy.producer_log(root).read_text().split()[1])
    os.kill(pid, signal.SIGKILL)
    assert follow.wait(jobs, progress=False, timeout_s=60, run_ids=jobs.run_ids, store_root=root) == ["failed"] * 2
    store = Store(root)
    for s in specs:
        assert "producer job ended" in store.failure(s.run_id)["error"]
    [a] = toy.toy_needs(specs[0])
    assert not a.done()  # the killed producer left no artefact (it writes into a temporary folder)
    states = artefacts.producer_states(follow.manifests(root, "kill"))
    assert states[a.key]["state"] == "failed"
    # rerun (quick producer): retries the producer, then the consumers; one record each
    prod = toy.ToyProducer(root, quick=True)
    jobs2 = launch.submit(specs, "local", profile, tmp_path / "sub" / "%j", root, fn=toy.ToyConsumer(),
                          needs=toy.toy_needs, producer_fn=prod)
    assert follow.wait(jobs2, progress=False, timeout_s=120, run_ids=jobs2.run_ids, store_root=root) == ["done"] * 2
    assert a.done() and all(_writes(toy, root, s.run_id) == 1 for s in specs)


@pytest.mark.slow
def test_a_second_grid_waits_for_the_producer_an_earlier_launch_submitted(toy, make_specs, tmp_path, art_root):
    root = tmp_path / "results"
    profile = load_profile("local", {"array_parallelism": 2})
    kw = dict(fn=toy.ToyConsumer(), needs=toy.toy_needs, producer_fn=toy.ToyProducer(root))
    [first] = [s.__class__(**{**s.to_dict(), "overrides": {**s.overrides, "needs": ["a"], "produce_s": 3.0}})
               for s in make_specs(1, grid="g1", steps=1, step_s=0.0)]
    [second] = [s.__class__(**{**s.to_dict(), "overrides": {**s.overrides, "needs": ["a"], "produce_s": 3.0}})
                for s in make_specs(1, grid="g2", steps=1, step_s=0.0, extra=2)]
    one = launch.submit([first], "local", profile, tmp_path / "sub" / "%j", root, **kw)
    two = launch.submit([second], "local", profile, tmp_path / "sub" / "%j", root, **kw)
    [key] = one.producers.jobs
    assert str(two.producers.jobs[key].job_id) == str(one.producers.jobs[key].job_id)  # waited for, not resubmitted
    for jobs in (one, two):
        assert follow.wait(jobs, progress=False, timeout_s=120, run_ids=jobs.run_ids, store_root=root) == ["done"]
    assert len(_producer_runs(toy, root)) == 1
    assert json.loads(two.manifest_path.read_text())["producers"][0]["job_id"] == str(one.producers.jobs[key].job_id)


def test_the_launcher_alone_plans_ftps_producers_in_a_fresh_process(syn_k400):
    """``bench.launch`` used as a library (a benchmark, a notebook) plans artefacts without importing bench.job
    itself: the job services the producers' planning asks for are registered by the launcher's imports."""
    import os
    import subprocess
    import sys

    code = ("from pathlib import Path\n"
            "from bench import artefacts, grid, launch\n"
            "g = grid.load(Path('ablations/ftp_prompts.yaml'), 'default')\n"
            "plan = artefacts.plan(g.specs[:2], artefacts.consumes)\n"
            "print(sum(len(v) for v in plan.values()))\n")
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(repo)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip().splitlines()[-1]) >= 1  # group 2 (prompt A) consumes the letter-A artefact
