"""Cost of the weights check before submission: reading a released file's key set vs loading its tensors.

Usage: ``python benchmarks/weights_check.py [--layout openai_clip_vit_b16]``

Builds a random file in the layout of ``tests/fixtures/checkpoints/<layout>.json`` (TorchScript for OpenAI's
CLIP, the released wrapper otherwise) in a temporary directory, then prints, for the lazy read that
``bench validate`` does (meta device / mmap / header) and for a full read, the wall time and the growth of
the process's resident memory while the result is held.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    """Resident memory now (MiB), from /proc; the peak (getrusage) where /proc is absent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read(path: str, lazy: bool) -> None:
    """In a fresh process: read ``path`` and print wall time and resident memory growth (MiB)."""
    import torch

    from bench.models.weights import read_file

    base = rss_mb()
    t0 = time.perf_counter()
    ck = read_file(path, lazy=lazy)
    if not lazy:  # touch every tensor, as a load into the model does (mmap'd pickles read pages on access)
        total = sum(float(v.float().sum()) for v in ck.entries.values() if isinstance(v, torch.Tensor))
        assert total == total
    print(f"{len(ck.entries)} {time.perf_counter() - t0:.3f} {rss_mb() - base:.0f}")


def main() -> int:
    import subprocess

    import torch

    from tests.models.ckpt_fixtures import layout, released_state, save_released

    ap = argparse.ArgumentParser()
    ap.add_argument("--layout", default="openai_clip_vit_b16")
    ap.add_argument("--read")
    ap.add_argument("--lazy", action="store_true")
    args = ap.parse_args()
    if args.read:
        read(args.read, args.lazy)
        return 0
    spec = layout(args.layout)
    how = "torchscript" if spec["how_saved"].startswith("TorchScript") else spec.get("state_dict_key")
    with tempfile.TemporaryDirectory() as tmp:
        path = save_released(released_state(spec["keys"], dtype=torch.float16), Path(tmp) / "weights.pt", how)
        size_mb = path.stat().st_size / 2**20
        out = {}
        for mode in ("lazy", "full"):
            cmd = [sys.executable, __file__, "--read", str(path)] + (["--lazy"] if mode == "lazy" else [])
            out[mode] = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    n = out["lazy"][0]
    print(f"layout {args.layout}: {n} entries, file {size_mb:.0f} MiB ({how or 'plain dict'}), fp16 tensors")
    print(f"key set only (bench validate): {float(out['lazy'][1]):.2f} s, resident +{out['lazy'][2]} MiB")
    print(f"all tensors (model build):     {float(out['full'][1]):.2f} s, resident +{out['full'][2]} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
