"""Registries, RunSpec ids, the results store and config overrides."""

from __future__ import annotations

import json

import pytest

import bench.identity  # noqa: F401 - registers how a RunSpec resolves (bench.spec)
from bench.errors import ConfigError, RegistryError
from bench.method import apply_overrides
from bench.registry import Registry
from bench.spec import RunSpec
from bench.store import Store


def test_registry_duplicate_fails_loudly_and_unknown_lists_names():
    reg: Registry = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(RegistryError, match="duplicate thing name 'a'"):
        reg.register("a", 2)
    with pytest.raises(RegistryError, match=r"unknown thing 'b' \(from test\); known things: a"):
        reg.get("b", "test")


def test_run_id_hashes_identity_not_labels():
    a = RunSpec("m", "supervised", "d", overrides={"x.y": 1}, grid="g1", case="c1", cell=0)
    b = RunSpec("m", "supervised", "d", overrides={"x.y": 1}, grid="g2", case="other", cell=5)
    c = RunSpec("m", "supervised", "d", overrides={"x.y": 2})
    assert a.run_id == b.run_id
    assert a.run_id != c.run_id
    assert a.run_id != RunSpec("m", "supervised", "d", overrides={"x.y": 1}, seed=1).run_id
    assert RunSpec.from_dict(a.to_dict()) == a


def test_run_id_refuses_before_bench_identity_registers_its_resolver():
    """bench.spec sits below bench.identity: without the registered resolver a run id is refused, not guessed."""
    import subprocess
    import sys

    code = ("from bench.spec import RunSpec\n"
            "try:\n    RunSpec('m', 'supervised', 'd').run_id\n"
            "except Exception as e:\n    print(type(e).__name__, e)\nelse:\n    print('no error')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("BenchError") and "import bench.identity" in out, out


def test_store_writes_whole_records_and_failures(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(ValueError, match="lacks fields"):
        store.write({"run_id": "x"})
    store.write_failure("r1", {"error": "boom"})
    rec = {"run_id": "r1", "method": "m", "protocol": "p", "dataset": "d", "seed": 0, "schema_version": 1,
           "metrics": {"top1": 50.0}, "spec": {"case": "c"}, "flops": {"gflops_per_view": 1.5, "views": "8x1x1"}}
    path = store.write(rec)
    assert json.loads(path.read_text())["metrics"]["top1"] == 50.0
    assert store.failure("r1") is None, "a success removes the failure file"
    assert not list(tmp_path.rglob("*.tmp"))
    frame = store.frame()
    assert frame.loc[0, "metric/top1"] == 50.0 and frame.loc[0, "gflops_per_view"] == 1.5
    assert frame.loc[0, "case"] == "c"


def test_overrides_refuse_unknown_fields():
    from mmengine.config import Config

    cfg = Config(dict(model=dict(head=dict(lr=1.0), layers=[dict(a=1)])))
    apply_overrides(cfg, {"model.head.lr": 2.0, "model.layers.0.a": 3})
    assert cfg.model.head.lr == 2.0 and cfg.model.layers[0]["a"] == 3
    with pytest.raises(ConfigError, match=r"'model.head.lrr' .* names no existing config field.*fields there: lr"):
        apply_overrides(cfg, {"model.head.lrr": 1})
    with pytest.raises(ConfigError, match="not an index"):
        apply_overrides(cfg, {"model.layers.3.a": 1})
