"""Checkpoints the harness writes are MMAction2 checkpoints: ``init_recognizer`` and ``tools/test.py`` read them.

torch >= 2.6 reads with ``weights_only=True``; MMEngine's message hub holds ``HistoryBuffer`` objects and
numpy values that it refuses. The harness writes them as tagged tensors / numbers instead
(``bench.checkpoint.WeightsOnlyCheckpointHook``), with no extra global allowed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.checkpoint import from_weights_only, to_weights_only


def test_message_hub_state_round_trips_through_weights_only(tmp_path):
    from mmengine.logging import HistoryBuffer

    buf = HistoryBuffer()
    for v in (1.0, 2.5, 4.0):
        buf.update(v)
    state = {"log_scalars": {"train/loss": buf}, "runtime_info": {"epoch": 3, "lr": np.float64(0.1),
                                                                  "arr": np.arange(4)}}
    torch.save({"message_hub": to_weights_only(state)}, tmp_path / "c.pth")
    back = from_weights_only(torch.load(tmp_path / "c.pth", weights_only=True)["message_hub"])
    got = back["log_scalars"]["train/loss"]
    assert isinstance(got, HistoryBuffer) and got.mean() == pytest.approx(2.5) and got.current() == 4.0
    got.update(6.0)  # still a working buffer after the round trip
    assert got.mean(2) == pytest.approx(5.0)
    assert back["runtime_info"]["lr"] == np.float64(0.1) and isinstance(back["runtime_info"]["lr"], np.float64)
    assert np.array_equal(back["runtime_info"]["arr"], np.arange(4))
    with pytest.raises(Exception, match="Weights only load failed"):  # what MMEngine writes by itself
        torch.save({"message_hub": state}, tmp_path / "raw.pth")
        torch.load(tmp_path / "raw.pth", weights_only=True)


@pytest.mark.slow
def test_bench_run_checkpoint_loads_in_init_recognizer_and_tools_test(fresh_dirs, syn_k400):
    """A 1-epoch ``bench run`` of the smallest method; its epoch_1.pth through MMAction2's user path."""
    import mmaction
    from mmaction.apis import inference_recognizer, init_recognizer

    from bench import job, settings
    from bench.data.catalog import read_annotation_list
    from bench.spec import RunSpec

    spec = RunSpec(method="clip_meanpool", protocol="supervised", dataset="syn_k400", size="tiny", seed=0,
                   protocol_args={"views": "1x1"}, overrides={"train_cfg.max_epochs": 1})
    job.run(spec)
    ckpts = sorted((settings.work_root()).glob("*/*/epoch_1.pth"))
    assert len(ckpts) == 1, ckpts
    ckpt = ckpts[0]
    config = ckpt.parent / "clip_meanpool_tiny.py"  # the resolved config MMEngine dumps next to it
    assert config.is_file()
    raw = torch.load(ckpt, weights_only=True)  # torch's default on the pinned version
    assert {"meta", "state_dict", "message_hub", "optimizer"} <= set(raw)

    model = init_recognizer(str(config), str(ckpt), device="cpu")
    trained = torch.load(ckpt.parent / "model_state.pth", weights_only=True)
    own = model.state_dict()
    for k, v in trained.items():
        assert torch.equal(own[k].cpu(), v), k
    video, _ = read_annotation_list(syn_k400.split_file("val"))[0]
    scores = inference_recognizer(model, str(syn_k400.video_root / video)).pred_scores.item
    assert scores.shape == (len(syn_k400.classes),) and torch.isfinite(scores).all()

    tool = Path(mmaction.__file__).parent / ".mim" / "tools" / "test.py"
    out = fresh_dirs / "tools_test"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, str(tool), str(config), str(ckpt), "--work-dir", str(out)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Load checkpoint from" in res.stdout + res.stderr and "top1" in res.stdout + res.stderr

    # the harness resumes from the same file (weights_only=True, no trusted unpickling): the message hub is back
    from mmengine.config import Config
    from mmengine.logging import HistoryBuffer
    from mmengine.runner import Runner

    from bench.checkpoint import weights_only_hook

    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(fresh_dirs / "resumed")
    cfg.train_cfg.max_epochs = 2
    cfg.resume, cfg.load_from = True, str(ckpt)
    runner = Runner.from_cfg(cfg)
    runner.register_hook(weights_only_hook())
    runner.train()
    assert runner.epoch == 2
    scalars = runner.message_hub.log_scalars
    assert scalars and all(isinstance(v, HistoryBuffer) for v in scalars.values())
    first = from_weights_only(raw["message_hub"])["log_scalars"]["train/loss"]
    assert isinstance(first, HistoryBuffer) and len(first.data[0]) == len(runner.train_dataloader)
    # the first epoch's history came back from the file and the second epoch's followed it
    assert len(scalars["train/loss"].data[0]) == 2 * len(first.data[0])
