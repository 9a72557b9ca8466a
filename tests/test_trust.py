"""Trustworthy results (issue 15): run identity, fresh runs vs resume, typed validation, a store that survives."""

from __future__ import annotations

import hashlib
import json
import shutil
import textwrap
from pathlib import Path

import pytest

from bench import grid, job
from bench.cli import main as bench_main
from bench.errors import ConfigError, ValidationError
from bench.spec import SPEC_VERSION, RunSpec
from bench.store import RECORD_SCHEMA_VERSION, Store

METHOD_CONFIG = Path(__file__).resolve().parents[1] / "methods" / "baselines" / "configs" / "clip_meanpool_tiny.py"


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def own_dataset(syn_k400, tmp_path, monkeypatch):
    """syn_k400 with its lists copied into tmp_path, returned by the catalog, so a test can edit them."""
    from bench.data import catalog

    root = tmp_path / "ds"
    root.mkdir()
    for name in ("train.txt", "val.txt"):
        shutil.copy(syn_k400.splits[name.split(".")[0]], root / name)
    info = catalog.DatasetInfo("syn_k400", list(syn_k400.classes), syn_k400.video_root,
                               {"train": root / "train.txt", "val": root / "val.txt"}, synthetic=True)
    monkeypatch.setattr(catalog, "get_dataset", lambda name, where="": info)
    return info


# ------------------------------------------------------------------------------------------ run identity


def test_run_id_names_the_split_files_the_class_list_and_the_weights(own_dataset, tmp_path):
    spec = lambda **kw: RunSpec("clip_meanpool", "supervised", "syn_k400", **kw)  # noqa: E731
    base = spec()
    assert base.run_id == spec().run_id, "nothing changed: same run id"
    data = base.identity()["resolved"]["data"][0]
    assert data["train"]["sha256"] == sha(own_dataset.splits["train"])
    assert data["test"]["sha256"] == sha(own_dataset.splits["val"])
    assert data["classes_sha256"] == hashlib.sha256("\n".join(own_dataset.classes).encode()).hexdigest()

    # another split file (one video fewer): another run
    lines = own_dataset.splits["train"].read_text().splitlines(keepends=True)
    own_dataset.splits["train"].write_text("".join(lines[1:]))
    split_changed = spec()
    assert split_changed.run_id != base.run_id
    own_dataset.splits["train"].write_text("".join(lines))
    assert spec().run_id == base.run_id, "the same content again: the same run"

    # another class list (two classes swap their labels): another run
    classes = list(own_dataset.classes)
    own_dataset.classes[:2] = classes[1::-1]
    assert spec().run_id != base.run_id
    own_dataset.classes[:] = classes

    # a weights file: the same path with other content is another run
    from bench.models.clip import resolve_weights

    weights = tmp_path / "clip.pt"
    shutil.copy(resolve_weights("synthetic:tiny-clip"), weights)
    over = {"model.backbone.clip_weights": str(weights), "model.cls_head.clip_weights": str(weights)}
    a = spec(overrides=over)
    assert a.identity()["resolved"]["weights"]["model.backbone.clip_weights"] == sha(weights)
    with open(weights, "ab") as f:
        f.write(b"\0")
    b = spec(overrides=over)
    assert a.run_id != b.run_id and b.identity()["resolved"]["weights"]["model.backbone.clip_weights"] == sha(weights)


def test_a_run_id_resolves_without_recursing_through_the_protocol_plan(syn_k400, monkeypatch):
    """The protocol's plan reads the method config (report_every, view sampling) while the identity is resolved;
    it must not ask for the run id being computed (that recursed ~120 levels, to a caught RecursionError)."""
    import sys

    from bench import identity, method

    loads, depth = [], {"now": 0, "max": 0}
    real_load, real_resolve = method.load_config, identity.resolve

    def counting_load(*a, **kw):
        loads.append(a)
        return real_load(*a, **kw)

    def tracking_resolve(spec):
        depth["now"] += 1
        depth["max"] = max(depth["max"], depth["now"])
        try:
            return real_resolve(spec)
        finally:
            depth["now"] -= 1

    monkeypatch.setattr(method, "load_config", counting_load)
    monkeypatch.setattr(identity, "resolve", tracking_resolve)
    method._CONFIGS.clear()
    limit = sys.getrecursionlimit()
    spec = RunSpec("ftp", "supervised", "syn_k400", size="tiny", overrides={"model.prompts": ["A"]})
    assert spec.run_id
    assert spec.resolve_error() is None
    assert depth["max"] == 1, f"identity.resolve re-entered {depth['max']} levels deep (recursion limit {limit})"
    assert len(loads) == 1, f"the config file was parsed {len(loads)} times for one run id"


def test_an_override_equal_to_its_default_does_not_change_the_run_id(syn_k400):
    from mmengine.config import Config

    cfg = Config.fromfile(str(METHOD_CONFIG))  # the defaults, read from the config file itself
    plain = RunSpec("clip_meanpool", "supervised", "syn_k400")
    spelt = RunSpec("clip_meanpool", "supervised", "syn_k400", protocol_args={"views": "1x1"}, overrides={
        "train_cfg.max_epochs": cfg.train_cfg.max_epochs,
        "model.backbone.frozen": cfg.model.backbone.frozen,
        "optim_wrapper.optimizer.lr": cfg.optim_wrapper.optimizer.lr,
    })
    assert spelt.run_id == plain.run_id
    # an integer for a float default is the same number
    assert cfg.optim_wrapper.clip_grad.max_norm == 1.0
    assert RunSpec("clip_meanpool", "supervised", "syn_k400",
                   overrides={"optim_wrapper.clip_grad.max_norm": 1}).run_id == plain.run_id
    other = RunSpec("clip_meanpool", "supervised", "syn_k400", overrides={"train_cfg.max_epochs": 2})
    assert other.run_id != plain.run_id
    assert plain.identity()["spec_version"] == SPEC_VERSION == 2


def test_an_unresolvable_spec_still_has_a_stable_run_id():
    a = RunSpec("no_such_method", "supervised", "syn_k400", overrides={"x": 1})
    assert a.run_id == RunSpec("no_such_method", "supervised", "syn_k400", overrides={"x": 1}).run_id
    assert a.identity()["unresolved"] is True and "no_such_method" in a.resolve_error()


# ------------------------------------------------------------------------------------------ fresh runs and resume


def test_work_dir_is_reused_only_by_a_requeue_of_the_same_submission_or_resume(tmp_path):
    wd = tmp_path / "run1"
    (wd / "main").mkdir(parents=True)
    (wd / "main" / "episode_result.json").write_text("{}")
    (wd / "main" / "epoch_1.pth").write_text("x")
    (wd / job.ATTEMPT_FILE).write_text(json.dumps({"submission": "S1"}))

    info = job.open_work_dir(wd, submission="S1")  # requeued job of submission S1
    assert info["resumed"] is True and "S1" in info["why"]
    assert info["from"]["episode_results"] == ["main/episode_result.json"]
    assert (wd / "main" / "epoch_1.pth").exists()

    info = job.open_work_dir(wd, submission="S1", resume=True)
    assert info["resumed"] is True and info["why"] == "--resume"

    info = job.open_work_dir(wd, submission="S2")  # a new submission: everything earlier is moved aside
    assert info["resumed"] is False and not (wd / "main").exists()
    moved = Path(info["discarded"])
    assert moved.parent == tmp_path / job.DISCARDED / "run1"
    assert (moved / "main" / "episode_result.json").exists() and (moved / "main" / "epoch_1.pth").exists()
    assert json.loads((wd / job.ATTEMPT_FILE).read_text())["submission"] == "S2"

    info = job.open_work_dir(wd, submission="S2", redo=True)
    assert info["resumed"] is False


def _plant(work_dir: Path, top1: float) -> None:
    path = work_dir / "main" / "episode_result.json"
    result = json.loads(path.read_text())
    result["metrics"]["top1"] = top1
    path.write_text(json.dumps(result))


@pytest.mark.slow
def test_redo_and_a_deleted_record_recompute_instead_of_restoring_planted_results(syn_k400, fresh_dirs, capsys):
    args = ["run", "--method", "clip_meanpool", "--dataset", "syn_k400", "--set", "train_cfg.max_epochs=1"]
    assert bench_main(args) == 0
    store = Store()
    [rec] = store.records()
    correct = rec["metrics"]["top1"]
    assert rec["resumed"]["resumed"] is False and rec["config"]["train_cfg"]["max_epochs"] == 1
    work = fresh_dirs / "work" / rec["run_id"]

    _plant(work, 12.345)
    assert bench_main([*args, "--redo"]) == 0
    redone = store.read(rec["run_id"])
    assert redone["metrics"]["top1"] == pytest.approx(correct) and redone["metrics"]["top1"] != 12.345
    assert redone["resumed"]["resumed"] is False and "discarded" in redone["resumed"]
    planted = Path(redone["resumed"]["discarded"]) / "main" / "episode_result.json"
    assert json.loads(planted.read_text())["metrics"]["top1"] == 12.345, "moved aside, not destroyed"

    _plant(work, 12.345)
    store.record_path(rec["run_id"]).unlink()
    assert bench_main(args) == 0
    again = store.read(rec["run_id"])
    assert again["metrics"]["top1"] == pytest.approx(correct)


@pytest.mark.slow
def test_a_requeued_job_resumes_and_a_full_results_dir_keeps_the_record_pending(syn_k400, fresh_dirs, monkeypatch):
    """The same submission token (a requeue) reuses finished episodes; the record says so. When the store
    cannot be written, a failure file names the cause and the next run publishes the pending record."""
    spec = RunSpec("clip_meanpool", "supervised", "syn_k400", overrides={"train_cfg.max_epochs": 1}, seed=3)
    first = job.run(spec, submission="S1")
    _plant(fresh_dirs / "work" / spec.run_id, 12.345)  # stands for "the episode finished before preemption"

    def full(self, record):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m, pytest.raises(OSError, match="No space left on device"):
        m.setattr(Store, "write", full)
        job.run(spec, submission="S1")
    failure = Store().failure(spec.run_id)
    assert "No space left on device" in failure["error"] and "pending_record.json" in failure["error"]
    pending = json.loads((fresh_dirs / "work" / spec.run_id / job.PENDING_RECORD).read_text())
    assert pending["metrics"]["top1"] == 12.345, "a requeue reuses the finished episode"
    assert pending["resumed"]["resumed"] is True and "S1" in pending["resumed"]["why"]
    assert pending["resumed"]["from"]["episode_results"] == ["main/episode_result.json"]

    published = job.run(spec, submission="S9")  # no training: the pending record is published as it was
    assert published["times"] == pending["times"] and published["published_late"]
    assert Store().read(spec.run_id)["metrics"]["top1"] == 12.345 and Store().failure(spec.run_id) is None
    assert first["metrics"]["top1"] != 12.345
    import torch  # the record names the CPU its floats came from

    assert first["host"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert first["host"]["cpu"] and first["host"]["torch_threads"] == torch.get_num_threads()


# ------------------------------------------------------------------------------------------ typed validation

BASE = """
name: g
base: {method: clip_meanpool, protocol: supervised, seed: 0}
profiles:
  default: {size: tiny, dataset: syn_k400, executor: local, launcher: {profile: local}}
"""


def write(tmp_path, text, name="g.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_numbers_with_an_exponent_are_numbers(tmp_path, syn_k400, fresh_dirs):
    g = grid.load(write(tmp_path, BASE + "cases: {a: {optim_wrapper.optimizer.lr: 1e-3}}\n"))
    assert g.specs[0].overrides["optim_wrapper.optimizer.lr"] == 0.001
    job.validate_cells(g.specs)
    from bench.cli.pairs import parse_pairs

    assert parse_pairs(["a=1e-3", "b=2E4", "c=eight"], "--set") == {"a": 0.001, "b": 20000.0, "c": "eight"}


@pytest.mark.parametrize("case, field, value", [
    ("{optim_wrapper.optimizer.lr: '1e-3'}", "optim_wrapper.optimizer.lr", "'1e-3'"),
    ("{num_frames: eight}", "num_frames", "'eight'"),
    ("{model.backbone: 5}", "model.backbone", "5"),
    ("{model.backbone.frozen: 1}", "model.backbone.frozen", "1"),
    ("{protocol_args.epochs: 0}", "supervised.epochs", "0"),
    ("{protocol_args.epochs: -1}", "supervised.epochs", "-1"),
    ("{protocol_args.epochs: 1.5}", "supervised.epochs", "1.5"),
    ("{protocol_args.views: '0x1'}", "supervised.views", "'0x1'"),
    ("{protocol_args.views: 0x1}", "supervised.views", "1"),  # YAML 1.1 reads 0x1 as the hex integer 1
    ("{protocol_args.views: 2x}", "supervised.views", "'2x'"),
    ("{seed: 1.5}", "seed", "1.5"),
    ("{seed: -1}", "seed", "-1"),
])
def test_bad_values_are_refused_before_anything_is_written(tmp_path, syn_k400, fresh_dirs, case, field, value):
    g = grid.load(write(tmp_path, BASE + f"cases: {{bad: {case}}}\n"))
    with pytest.raises(ValidationError) as e:
        job.validate_cells(g.specs)
    msg = str(e.value)
    assert f"{field}={value}" in msg, msg
    assert "accepted:" in msg and "(from " in msg, msg
    assert not (fresh_dirs / "work").exists() and not (fresh_dirs / "results").exists()


def test_fewshot_parameters_are_typed(syn_k400):
    from protocols.base import build_protocol

    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ConfigError, match=rf"fewshot.shots={bad!r} .*accepted: an integer >= 1"):
            build_protocol("fewshot", {"shots": bad}, "test")
    with pytest.raises(ConfigError, match="fewshot.seed=1.5 .*accepted: an integer >= 0 or null"):
        build_protocol("fewshot", {"seed": 1.5}, "test")
    assert build_protocol("fewshot", {"shots": 4}).args["seed"] is None
    assert build_protocol("linear_probe", {"l2": 1}).args["l2"] == 1.0


@pytest.mark.parametrize("text, match", [
    (BASE + "cases: {a: 5}\n", "case 'a' must be a mapping"),
    (BASE + "seeds: 3\n", "'seeds' must be a non-empty list"),
    (BASE + "seeds: []\n", "'seeds' must be a non-empty list"),
    (BASE + "seeds: [1, 1.5]\n", r"holds \[1.5\]; accepted: integers >= 0"),
    (BASE + "cases: {}\n", "'cases' must map case names"),
    (BASE.replace("base: {method: clip_meanpool, protocol: supervised, seed: 0}", "base: [1]"),
     "'base' must be a mapping, got list"),
    (BASE.replace("seed: 0}", "seed: 0, protocol_args: [1]}"), "'base.protocol_args' must be a mapping, got list"),
    (BASE.replace("name: g", "name: [a, b]"), r"grid name \['a', 'b'\] is not accepted"),
    (BASE.replace("name: g", "name: ../evil"), "grid name '../evil' is not accepted"),
    (BASE.replace("name: g", "name: a/b"), "grid name 'a/b' is not accepted"),
    (BASE.replace("name: g", 'name: "a\\nb"'), r"grid name 'a\\nb' is not accepted"),
    (BASE + "cases: {a: {}, a: {x: 1}}\n", "duplicate key 'a'"),
    (BASE.replace("seed: 0}", "seed: 0}\nbase: {method: x}"), "duplicate key 'base'"),
    (BASE + "grid: {num_frames: 4}\n", "non-empty lists"),
    (BASE + "zip: {a: [1]}\n", "'zip' must be a list"),
    (BASE + "plot: bars\ntable: results/tables/baseline_smoke.yaml\n", "plot='bars' is not accepted"),
    (BASE + "table: results/tables/no_such_table.yaml\n", "table spec .*no_such_table.yaml does not exist"),
    (BASE + "plot: pareto\n", "needs a 'table'"),
])
def test_structural_errors_are_one_message_never_a_traceback(tmp_path, fresh_dirs, capsys, text, match):
    p = write(tmp_path, text)
    with pytest.raises((ConfigError, ValidationError), match=match):
        grid.load(p)
    assert bench_main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip(), err
    assert not (fresh_dirs / "work").exists()


def test_several_structural_problems_are_listed_at_once(tmp_path):
    p = write(tmp_path, BASE.replace("name: g", "name: [a]") + "cases: {a: 5}\nseeds: 3\n")
    with pytest.raises(ValidationError) as e:
        grid.load(p)
    assert len(e.value.problems) == 3


# ------------------------------------------------------------------------------------------ a store that survives

def _record(run_id: str, **extra):
    return {"run_id": run_id, "method": "clip_meanpool", "protocol": "supervised", "dataset": "syn_k400", "seed": 0,
            "schema_version": RECORD_SCHEMA_VERSION, "metrics": {"top1": 50.0}, "spec": {}, **extra}


def plant_bad_files(runs: Path, failures: Path) -> dict[str, Path]:
    runs.mkdir(parents=True, exist_ok=True)
    failures.mkdir(parents=True, exist_ok=True)
    bad = {"corrupt": runs / "aaaaaaaaaaaa.json", "foreign": runs / "bbbbbbbbbbbb.json",
           "newer": runs / "cccccccccccc.json", "failure": failures / "dddddddddddd.json"}
    bad["corrupt"].write_text('{"run_id": "aaaaaaaaaaaa", "metrics": {"top1": 9')
    bad["foreign"].write_text(json.dumps({"name": "someone else's file", "top1": 99.0}))
    bad["newer"].write_text(json.dumps(_record("cccccccccccc", schema_version=RECORD_SCHEMA_VERSION + 1)))
    bad["failure"].write_text("not json")
    return bad


def test_bad_records_are_never_counted_and_are_moved_to_quarantine(tmp_path, capsys):
    store = Store(tmp_path)
    bad = plant_bad_files(store.runs, store.failures)
    store.write(_record("good00000000"))
    (store.runs / "eeeeeeeeeeee.json").write_text(json.dumps(_record("ffffffffffff")))  # another run's record
    tmp = store.runs / ".x.json.123.tmp"
    tmp.write_text("half")
    import os
    import time

    old = time.time() - 2 * 3600
    os.utime(tmp, (old, old))
    fresh_tmp = store.runs / ".y.json.456.tmp"
    fresh_tmp.write_text("a writer is busy with this one")
    for run_id in ("aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc", "eeeeeeeeeeee"):
        assert not Store(tmp_path).has(run_id)
    assert Store(tmp_path).failure("dddddddddddd") is None
    assert [r["run_id"] for r in Store(tmp_path).records()] == ["good00000000"]
    assert not tmp.exists() and fresh_tmp.exists()
    err = capsys.readouterr().err
    for path in bad.values():
        assert str(path) in err and not path.exists()
        assert err.count(str(path)) == 1, "reported once"
    assert "newer than this code's" in err and "not valid JSON" in err and "foreign schema" in err
    assert len(list((tmp_path / "quarantine").iterdir())) == 5
    with pytest.raises(Exception, match="no usable record"):
        Store(tmp_path).read("aaaaaaaaaaaa")


def test_status_tables_and_plot_run_to_the_end_past_bad_records(tmp_path, syn_k400, fresh_dirs, capsys):
    results = fresh_dirs / "results"
    table_spec = write(tmp_path, """
        name: g_table
        measured: {where: {grid: g}}
        rows: {key: [case]}
        columns: [{name: Case, field: case}, {name: Top-1, metric: top1}, {name: GFLOPs, field: gflops_per_view}]
        """, "g_table.yaml")
    g = write(tmp_path, BASE + f"table: {table_spec}\ncases: {{a: {{}}, b: {{train_cfg.max_epochs: 2}}}}\n")
    specs = grid.load(g).specs
    store = Store(results)
    good = _record(specs[0].run_id, spec=specs[0].to_dict(), grid="g",
                   flops={"gflops_per_view": 1.0, "views": "8x1x1"})
    store.write(good)
    runs = results / "runs"
    # the three bad files stand in the place of cell b's record and of two others
    plant_bad_files(runs, results / "failures")
    (runs / f"{specs[1].run_id}.json").write_text("{ torn")
    assert bench_main(["status", str(g), "--results", str(results)]) == 0
    out = capsys.readouterr()
    assert "recorded" in out.out and "missing" in out.out and "skipped" in out.out
    assert f"{specs[1].run_id}.json" in out.err
    plant_bad_files(runs, results / "failures")
    assert bench_main(["tables", str(table_spec), "--results", str(results), "--out", str(tmp_path / "t")]) == 0
    assert "aaaaaaaaaaaa.json" in capsys.readouterr().err
    plant_bad_files(runs, results / "failures")
    code = bench_main(["plot", "pareto", str(table_spec), "--results", str(results), "--out", str(tmp_path / "f")])
    assert code == 0
    assert "cccccccccccc.json" in capsys.readouterr().err
    # the cell behind a bad record is not recorded: it is submitted again
    from bench import launch
    from bench.profiles import load_profile

    calls = []
    launched = launch.submit(specs, "debug", load_profile("local"), tmp_path / "sub", results,
                             fn=lambda d, r: calls.append(d))
    assert launched.run_ids == [specs[1].run_id] and launched.skipped == [specs[0].run_id]


def test_status_shows_an_older_spec_version_record_as_stale(tmp_path, syn_k400, fresh_dirs, capsys):
    results = fresh_dirs / "results"
    g = write(tmp_path, BASE + "cases: {a: {}}\n")
    [spec] = grid.load(g).specs
    Store(results).write(_record("0123456789ab", spec=spec.to_dict(), identity={"spec_version": 1}))
    assert bench_main(["status", str(g), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "stale" in out and "0123456789ab" in out and "spec version 1" in out
    assert "recorded" not in out.split("\n")[0]


def test_a_job_whose_inputs_changed_since_submission_fails_instead_of_recording(syn_k400, fresh_dirs):
    spec = RunSpec("clip_meanpool", "supervised", "syn_k400", seed=7)
    with pytest.raises(ConfigError, match=f"run 0123456789ab was submitted, but its inputs resolve to run id "
                                          f"{spec.run_id}"):
        job.run(spec, expected_run_id="0123456789ab")
    assert not Store().has(spec.run_id) and not Store().has("0123456789ab")


@pytest.mark.parametrize("protocol, dataset, args", [
    ("zeroshot", "syn_ucf", {"mode": "half", "repeats": 2}),  # derives a class-subset list per repeat
    ("fewshot", "syn_ucf", {"shots": 2, "list": "draw"}),  # draws a K-shot list
])
def test_validation_and_run_ids_write_nothing_into_work_dirs(fresh_dirs, protocol, dataset, args):
    spec = RunSpec("clip_meanpool", protocol, dataset, protocol_args=args)
    assert job.validate(spec) == []
    data = spec.identity()["resolved"]["data"]
    assert len(data) == (2 if protocol == "zeroshot" else 1)
    assert all(ep["test"]["sha256"] for ep in data)
    assert not (fresh_dirs / "work").exists()
    other = RunSpec("clip_meanpool", protocol, dataset, protocol_args=args, seed=1)
    if protocol == "fewshot":  # the drawn list depends on the seed: its content hash differs
        assert other.identity()["resolved"]["data"][0]["train"]["sha256"] != data[0]["train"]["sha256"]


def test_file_hash_cache_sees_a_same_size_rewrite_with_the_old_mtime(tmp_path):
    import os

    from bench.models.files import file_sha256

    path = tmp_path / "list.txt"
    path.write_text("a/x.mp4 0\n")
    assert file_sha256(path) == sha(path)
    st = path.stat()
    path.write_text("a/y.mp4 0\n")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime, as a coarse clock would leave it
    assert file_sha256(path) == hashlib.sha256(b"a/y.mp4 0\n").hexdigest()


def test_status_explains_a_record_whose_inputs_changed(tmp_path, syn_k400, fresh_dirs, capsys):
    import copy

    results = fresh_dirs / "results"
    g = write(tmp_path, BASE + "cases: {a: {}}\n")
    [spec] = grid.load(g).specs
    old = copy.deepcopy(spec.identity())
    old["resolved"]["data"][0]["train"]["sha256"] = "0" * 64  # the training list it ran on was another
    Store(results).write(_record("ba5eba11f00d", spec=spec.to_dict(), identity=old))
    assert bench_main(["status", str(g), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "stale" in out and "ba5eba11f00d" in out and "resolved.data.0.train.sha256" in out


def test_a_spec_whose_identity_cannot_be_computed_never_runs(syn_k400, fresh_dirs, monkeypatch):
    from bench import identity

    def broken(spec):
        raise OSError("the weights file cannot be read")

    monkeypatch.setattr(identity, "resolve", broken)
    spec = RunSpec("clip_meanpool", "supervised", "syn_k400", seed=11)
    [problem] = job.validate(spec)
    assert "identity (data and weights hashes) cannot be computed" in problem and "cannot be read" in problem


def test_a_record_names_the_code_it_started_with_and_a_checkout_that_moved_during_the_run(tmp_path,
                                                                                         monkeypatch) -> None:
    """``record["code"]`` is the checkout when the run started; a commit made while it trained is kept beside
    it as ``code_at_end`` instead of replacing it (a real git repository, two real commits)."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    git("add", "a.py")
    git("commit", "-qm", "one")
    monkeypatch.setattr(job, "REPO_ROOT", tmp_path)
    start = job.code_version()
    assert start["git_sha"] == git("rev-parse", "HEAD") and start["dirty"] is False
    assert job.code_during_run(start, job.code_version()) == start  # nothing moved: no code_at_end
    (tmp_path / "a.py").write_text("x = 2\n")
    edited = job.code_version()
    assert edited == {**start, "dirty": True}
    git("commit", "-qam", "two")
    end = job.code_version()
    assert end["git_sha"] != start["git_sha"] and end["dirty"] is False
    record_code = job.code_during_run(start, end)
    assert record_code["git_sha"] == start["git_sha"] and record_code["dirty"] is False
    assert record_code["code_at_end"] == end
