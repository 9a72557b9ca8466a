"""The paper profile's GPU training path: every real-size config resolves to bf16 AMP and GPU loader settings."""

from __future__ import annotations

import pytest
import torch

from bench.method import get_method, load_config

REAL_SIZES = [(m, s) for m in ("clip_meanpool", "alt", "bike", "ftp", "vlc") for s in get_method(m).sizes
              if s != "tiny"]


@pytest.mark.parametrize("method,size", REAL_SIZES)
def test_real_size_config_resolves_to_amp_bfloat16_and_gpu_loader_settings(method, size):
    cfg = load_config(method, size)
    assert cfg.optim_wrapper["type"] == "AmpOptimWrapper" and cfg.optim_wrapper["dtype"] == "bfloat16"
    assert "optimizer" in cfg.optim_wrapper  # the method's optimiser is kept, only the wrapper changes
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        assert loader["persistent_workers"] is True and loader["pin_memory"] is True and loader["num_workers"] >= 1
    assert not (cfg.get("test_cfg") or {}).get("fp16", False)  # evaluation stays fp32
    assert cfg.get("compile", False) is False  # torch.compile is opt-in


def test_mmengine_builds_the_wrapper_with_bfloat16_autocast(monkeypatch):
    """MMEngine's own builder turns the config into AmpOptimWrapper(cast_dtype=bfloat16) (CUDA check bypassed:
    AmpOptimWrapper refuses to build without an accelerator, which is right on a CPU-only node)."""
    from mmengine.optim import AmpOptimWrapper, build_optim_wrapper
    from mmengine.optim.optimizer import amp_optimizer_wrapper

    monkeypatch.setattr(amp_optimizer_wrapper, "is_cuda_available", lambda: True)
    cfg = load_config("clip_meanpool", "b16_8f")
    wrapper = build_optim_wrapper(torch.nn.Linear(4, 2), cfg.optim_wrapper)
    assert isinstance(wrapper, AmpOptimWrapper) and wrapper.cast_dtype == torch.bfloat16
    assert type(wrapper.optimizer).__name__ == cfg.optim_wrapper["optimizer"]["type"]
    assert wrapper.clip_grad_kwargs == dict(cfg.optim_wrapper["clip_grad"])


@pytest.mark.parametrize("method", ["alt", "bike", "ftp", "vlc"])
def test_each_methods_optimiser_constructor_keeps_amp_bfloat16(monkeypatch, method):
    """The methods' own constructors (ftp's per-stage groups) build the real-size wrapper as AMP bf16 too."""
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.optim import AmpOptimWrapper, build_optim_wrapper
    from mmengine.optim.optimizer import amp_optimizer_wrapper

    import methods  # noqa: F401

    monkeypatch.setattr(amp_optimizer_wrapper, "is_cuda_available", lambda: True)
    register_all_modules()
    model = MODELS.build(load_config(method, "tiny").model)  # same module names as the real sizes
    size = next(s for s in get_method(method).sizes if s != "tiny")
    wrapper = build_optim_wrapper(model, load_config(method, size).optim_wrapper)
    assert isinstance(wrapper, AmpOptimWrapper) and wrapper.cast_dtype == torch.bfloat16


def test_tiny_configs_stay_fp32_on_cpu():
    for m in ("clip_meanpool", "alt", "bike", "ftp", "vlc"):
        assert load_config(m, "tiny").optim_wrapper.get("type", "OptimWrapper") == "OptimWrapper"


def test_the_paper_profile_gives_each_loader_worker_a_cpu():
    from bench.profiles import load_profile

    workers = max(load_config(m, s).train_dataloader["num_workers"] for m, s in REAL_SIZES)
    for name in ("paper", "paper_multigpu"):
        prof = load_profile(name)
        assert prof["cpus_per_task"] >= workers + 1, (name, prof["cpus_per_task"], workers)


@pytest.mark.parametrize("size", [s for s in get_method("ftp").sizes if s != "tiny"])
def test_ftp_ddp_looks_for_the_parameters_a_stage_leaves_unused(size):
    cfg = load_config("ftp", size)
    assert cfg.model_wrapper_cfg == {"type": "MMDistributedDataParallel", "find_unused_parameters": True}
