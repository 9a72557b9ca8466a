"""Dump every method config as the harness resolves it, one canonical JSON file per config.

Usage: ``python benchmarks/config_dump.py OUT_DIR``.

Each ``methods/*/configs/*.py`` is loaded as ``bench.method.method_config`` does
(``mmengine.Config.fromfile``, ``_base_`` inheritance resolved) and its frame samplers are synced
(``protocols.engine.sync_frames``, what every run applies after its overrides); the result is
written as ``OUT_DIR/<method dir>__<config>.json`` with sorted keys (``bench.spec.canonical_json``
is what a run id hashes); ``OUT_DIR/raw/`` holds the same without the frame sync (what
``init_recognizer(config)`` reads). Dumping before and after a refactoring of the config files and
comparing the two folders byte for byte (``diff -r``) shows whether any resolved config changed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    from mmengine.config import Config

    from protocols.engine import sync_frames

    out = Path(sys.argv[1])
    (out / "raw").mkdir(parents=True, exist_ok=True)
    paths = sorted(REPO.glob("methods/*/configs/*.py"))
    for path in paths:
        cfg = Config.fromfile(str(path))
        name = f"{path.parent.parent.name}__{path.stem}.json"
        for where, sync in ((out / "raw", False), (out, True)):
            if sync:
                sync_frames(cfg)
            text = json.dumps(cfg.to_dict(), sort_keys=True, indent=1, ensure_ascii=True, default=str)
            (where / name).write_text(text + "\n")
    print(f"{len(paths)} configs dumped to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
