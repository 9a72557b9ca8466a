# Runtime settings every method config shares (MMAction2's `_base_/default_runtime.py` role): registry scope and
# imports, hooks, environment, logging, visualiser, randomness, and the test loop and metric that the protocols
# fill in (`protocols/engine.py` replaces the metric with BenchAccMetric and sets the annotation lists).
# A method's root config inherits it with `_base_ = ["../../_base_/default_runtime.py"]`; a config that needs
# other values sets them, and MMEngine merges dicts key by key.
custom_imports = dict(imports=["methods", "bench.data.mm"], allow_failed_imports=False)
default_scope = "mmaction"

dataset_type = "CheckedVideoDataset"
val_dataloader = None
val_cfg = None
val_evaluator = None
test_evaluator = dict(type="AccMetric", metric_list=("top_k_accuracy", "mean_class_accuracy"))
test_cfg = dict(type="TestLoop")

default_hooks = dict(
    runtime_info=dict(type="RuntimeInfoHook"),
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=20, ignore_last=False),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=1, save_last=True),
    sampler_seed=dict(type="DistSamplerSeedHook"),
    sync_buffers=dict(type="SyncBuffersHook"),
)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
               dist_cfg=dict(backend="nccl"))
log_processor = dict(type="LogProcessor", window_size=20, by_epoch=True)
vis_backends = [dict(type="LocalVisBackend")]
visualizer = dict(type="ActionVisualizer", vis_backends=vis_backends)
log_level = "INFO"
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
