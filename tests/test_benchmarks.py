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
