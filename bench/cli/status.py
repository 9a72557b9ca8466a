"""``bench status G.yaml``: per-cell state from the records and submitit's job states."""

from __future__ import annotations

import argparse
from pathlib import Path


def _tail(path: str | None, n: int = 15) -> str:
    if not path or not Path(path).exists():
        return ""
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="per-cell state of a grid, with the log tail of failed cells")
    p.add_argument("grid")
    p.add_argument("--profile")
    p.add_argument("--results")
    p.add_argument("--lines", type=int, default=15, help="log lines shown per failed cell")
    p.set_defaults(func=main)


def cell_states(grid, store) -> dict[str, str]:
    """Run id -> recorded / failed / running / pending / missing."""
    from bench import follow

    jobs: dict[str, str] = {}
    for manifest in follow.manifests(store.root, grid.name):
        try:
            jobs.update(follow.job_states(manifest))
        except Exception as e:  # noqa: BLE001 - the scheduler may be gone; records still speak
            print(f"(cannot read job states from {manifest}: {e})")
    out = {}
    for s in grid.specs:
        if store.has(s.run_id):
            out[s.run_id] = "recorded"
        elif s.run_id in jobs and follow.category(jobs[s.run_id]) in ("running", "pending"):
            out[s.run_id] = follow.category(jobs[s.run_id])
        elif store.failure(s.run_id) or (s.run_id in jobs and follow.category(jobs[s.run_id]) == "failed"):
            out[s.run_id] = "failed"
        else:
            out[s.run_id] = "missing"
    return out


def main(args: argparse.Namespace) -> int:
    from bench import grid as grid_mod
    from bench.store import Store

    g = grid_mod.load(args.grid, profile=args.profile)
    store = Store(args.results)
    producers = show_producers(g, store)
    states = cell_states(g, store)
    counts: dict[str, int] = {}
    for s in g.specs:
        st = states[s.run_id]
        counts[st] = counts.get(st, 0) + 1
        line = f"#{s.cell:<3d} {st:9s} {s.run_id}  [{s.case or '-'}]"
        if st == "recorded":
            m = store.read(s.run_id)["metrics"]
            line += f"  top1={m.get('top1', float('nan')):.2f}" if isinstance(m.get("top1"), float) else ""
        print(line)
        if st == "failed":
            info = store.failure(s.run_id) or {}
            error = info.get("error") or _producer_error(s.run_id, g, store, producers)
            print(f"     error: {error or 'job died without a failure file (killed?)'}")
            log_path = info.get("log") or _find_log(info.get("work_dir"))
            if log_path:
                print(f"     log: {log_path}")
                print("     " + _tail(log_path, args.lines).replace("\n", "\n     "))
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return 0


def show_producers(grid, store) -> dict[str, dict]:
    """Print the grid's producer jobs (shared artefacts, ``bench.artefacts``) and their states."""
    from bench import artefacts, follow

    states = artefacts.producer_states(follow.manifests(store.root, grid.name))
    if states:
        print(f"producers ({len(states)}):")
        for key, p in states.items():
            print(f"  {p['state']:9s} {p['kind']} {p['label']}  {key}  job {p['job_id'] or '-'}")
            if p["error"]:
                print(f"     error: {p['error']}")
    return states


def _producer_error(run_id: str, grid, store, producers: dict[str, dict]) -> str | None:
    """A consumer SLURM cancelled (its ``afterok`` producer failed): the producer's error."""
    import json

    from bench import follow

    for manifest in reversed(follow.manifests(store.root, grid.name)):
        for j in json.loads(manifest.read_text()).get("jobs", []):
            if j["run_id"] != run_id:
                continue
            for key in j.get("consumes", []):
                p = producers.get(key)
                if p and p["state"] == "failed":
                    return f"producer of artefact {key} ({p['kind']} {p['label']}) failed: {p['error']}"
            return None
    return None


def _find_log(work_dir: str | None) -> str | None:
    if not work_dir or not Path(work_dir).exists():
        return None
    logs = sorted(Path(work_dir).rglob("*.log"), key=lambda p: p.stat().st_mtime)
    return str(logs[-1]) if logs else None
