"""The benchmark scripts run (CPU smoke modes) and their figures follow their own definitions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.slow
def test_gpu_step_tiny_runs_on_cpu_and_writes_its_figures(tmp_path, monkeypatch):
    import gpu_step

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "gpu_step.json"
    result = gpu_step.main(["--tiny", "--steps", "1", "--warmup", "1", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    rows = {r["method"]: r for r in result["rows"]}
    assert set(rows) == {"clip_meanpool", "ftp", "bike", "alt", "vlc", "mmaction2_uniformerv2_b16"}
    for name, r in rows.items():
        assert "error" not in r, (name, r.get("error"))
        assert r["step_s"] > 0 and r["peak_mem_gib"] > 0 and r["gflops_per_clip"] > 0
        assert r["clips_per_s"] == pytest.approx(r["batch"] / r["step_s"])
        # achieved TFLOP/s: FLOPs per clip x 3 (forward and backward) x clips per second
        assert r["achieved_tflops"] == pytest.approx(r["gflops_per_clip"] * 3 * r["batch"] / r["step_s"] / 1e3)
        assert r["fraction_of_bf16_peak"] is None  # no known peak on a CPU
    assert result["ftp_over_reference_step"] == pytest.approx(rows["ftp"]["step_s"] / rows[
        "mmaction2_uniformerv2_b16"]["step_s"])


def test_gpu_step_refuses_to_pretend_a_cpu_is_a_gpu(monkeypatch):
    import gpu_step
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="no CUDA device"):
        gpu_step.main(["--out", "/dev/null"])


def test_device_peak_table():
    import gpu_step
    import torch

    assert gpu_step.device_peak(torch.device("cpu"), None) is None
    assert gpu_step.device_peak(torch.device("cpu"), 123.0) == 123.0


# -- benchmarks/flops_configs.py: a count that ends without a record is reported, never a silent row ----------------

def _child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_flops_benchmark_names_the_signal_that_killed_a_count():
    import os
    import signal

    import flops_configs

    row = flops_configs.run_one(_child("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"), dict(os.environ))
    assert row["rc"] == -signal.SIGKILL and "gflops_per_view" not in row
    assert row["error"].startswith("killed by SIGKILL (an out-of-memory kill sends SIGKILL); peak RSS ")


def test_flops_benchmark_reports_a_count_past_its_timeout():
    import os

    import flops_configs

    row = flops_configs.run_one(_child("import time; time.sleep(60)"), dict(os.environ), timeout=1)
    assert row["rc"] is None and row["error"].startswith("timed out after 1 s") and row["wall_s"] < 30


def test_flops_benchmark_refuses_an_exit_without_a_record_and_reads_one_among_logs():
    import os

    import flops_configs

    row = flops_configs.run_one(_child("print('loaded'); print({'logged': 1})"), dict(os.environ))
    assert row["rc"] == 0 and row["error"] == "exit status 0 without a JSON record: {'logged': 1}"
    # bench flops prints a logged dict, then the record, then a warning line, and exits 1 on uncounted ops
    code = ("import json, sys; print({'logged': 1}); print('{\\n \"nested\": {\"x\": 1}\\n}'); "
            "rec = {'gflops_per_view': 1.5, 'params_m': 2.0, 'uncounted_ops': {'aten::foo': 1}}; "
            "print(json.dumps(rec, indent=2)); "
            "print('warning: 1 op type(s) were not counted'); sys.exit(1)")
    row = flops_configs.run_one(_child(code), dict(os.environ))
    assert "error" not in row and row["rc"] == 1
    assert row["gflops_per_view"] == 1.5 and row["params_m"] == 2.0 and row["uncounted"] == {"aten::foo": 1}


def test_flops_benchmark_times_the_child_alone():
    import os

    import flops_configs

    # the child burns 0.5 s of CPU and holds 200 MB; the parent's own time and memory are not in its row
    code = "import time; b = bytearray(200 * 2**20); t = time.process_time()\nwhile time.process_time() - t < 0.5: pass"
    row = flops_configs.run_one(_child(code), dict(os.environ))
    assert row["rc"] == 0 and 0.5 <= row["cpu_s"] < 5 and row["maxrss_gb"] > 0.2


def test_flops_benchmark_covers_every_real_size_config_once():
    import subprocess

    import flops_configs

    repo = Path(flops_configs.__file__).resolve().parents[1]
    files = sorted(p.name for p in repo.glob("methods/*/configs/*.py") if "tiny" not in p.name)
    # in a fresh interpreter, as the script runs: this process's registry also holds the toy methods that
    # other tests register (which test ran before this one depends on the pytest-xdist worker)
    code = ("import json, sys; sys.path.insert(0, 'benchmarks'); import flops_configs; "
            "print(json.dumps([label for label, _ in flops_configs.targets()]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    labels = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(labels) == len(files) == len(set(labels))
    for name in files:
        assert sum(f"({name})" in label for label in labels) == 1, name
