"""Build cost of real-size configs without weights: ``init_recognizer`` time and text-encoder calls.

Usage: ``python benchmarks/build_cost.py [--configs CFG.py ...]``

Default configs: ``clip_meanpool_vit-b16_8x224.py`` and ``ftp_uniformerv2-b16_8x224.py``; their weights
keys are cleared (random init, nothing read). Target: at most 30 s each on a 2-core machine, and zero
text-encoder calls (class text is embedded on first use: ``bench.models.class_text``). Each config is
built in a fresh process, so imports are timed apart from the build.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT = ["methods/baselines/configs/clip_meanpool_vit-b16_8x224.py",
           "methods/ftp/configs/ftp_uniformerv2-b16_8x224.py"]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import open_clip
from mmaction.apis import init_recognizer
from mmaction.utils import register_all_modules
from mmengine.config import Config
import methods
from bench.job_flops import _strip_weights
register_all_modules()
calls = {"n": 0}
original = open_clip.model.CLIP.encode_text
def counting(self, *a, **k):
    calls["n"] += 1
    return original(self, *a, **k)
open_clip.model.CLIP.encode_text = counting
cfg = Config.fromfile(sys.argv[1])
model_cfg = cfg.model.to_dict()
_strip_weights(model_cfg)
cfg.model = model_cfg
t1 = time.perf_counter()
model = init_recognizer(cfg, None, device="cpu")
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "build_s": t2 - t1, "text_encoder_calls": calls["n"],
                  "params_m": sum(p.numel() for p in model.parameters()) / 1e6}))
"""


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=DEFAULT)
    args = ap.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    rows = []
    for cfg in args.configs:
        out = subprocess.run([sys.executable, "-c", CHILD, cfg], cwd=REPO, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{cfg}: FAILED\n{out.stderr[-2000:]}")
            continue
        row = {"config": cfg, **json.loads(out.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(f"{Path(cfg).name}: init_recognizer {row['build_s']:.1f} s (imports {row['import_s']:.1f} s), "
              f"text-encoder calls {row['text_encoder_calls']}, {row['params_m']:.1f} M parameters "
              f"(target <= 30 s, 0 calls); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return rows


if __name__ == "__main__":
    main()
