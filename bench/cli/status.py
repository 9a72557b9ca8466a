"""``bench status G.yaml``: per-cell state from the records and submitit's job states."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.grid_run import add_cell_options, load_grid


def _tail(path: str | None, n: int = 15) -> str:
    if not path or not Path(path).exists():
        return ""
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="per-cell state of a grid, with the log tail of failed cells")
    p.add_argument("grid")
    p.add_argument("--profile")
    add_cell_options(p)
    p.add_argument("--results")
    p.add_argument("--lines", type=int, default=15, help="log lines shown per failed cell")
    p.set_defaults(func=main)


def stale_records(grid, store) -> dict[str, dict]:
    """Run id of a cell without a record -> a record of the same cell as written (same method, dataset, seed,
    overrides, ...) under another run id: from an older spec version, or of inputs that changed since."""
    from bench.spec import SPEC_VERSION, canonical_json

    by_fields: dict[str, list[dict]] = {}
    for rec in store.records():
        spec = dict(rec.get("spec") or {})
        for k in ("grid", "case", "cell"):
            spec.pop(k, None)
        by_fields.setdefault(canonical_json(spec), []).append(rec)
    out = {}
    for s in grid.specs:
        if store.has(s.run_id):
            continue
        recs = [r for r in by_fields.get(canonical_json(s.fields()), []) if r.get("run_id") != s.run_id]
        if not recs:
            continue
        rec = recs[-1]
        old = rec.get("identity") or {}
        version = old.get("spec_version", 1)
        if version != SPEC_VERSION:
            why = f"spec version {version}, this code's is {SPEC_VERSION}"
        else:
            from bench.identity import diff

            changed = diff(old, s.identity())
            why = "inputs changed: " + (", ".join(changed[:6]) or "unknown") + (" ..." if len(changed) > 6 else "")
        out[s.run_id] = {"run_id": rec.get("run_id"), "why": why}
    return out


def cell_states(grid, store, stale: dict[str, dict] | None = None) -> dict[str, str]:
    """Run id -> recorded / failed / running / pending / stale / missing (``stale``: from ``stale_records``)."""
    from bench import follow

    jobs: dict[str, str] = {}
    for manifest in follow.manifests(store.root, grid.name):
        try:
            jobs.update(follow.job_states(manifest))
        except Exception as e:  # noqa: BLE001 - the scheduler may be gone; records still speak
            print(f"(cannot read job states from {manifest}: {e})")
    stale = stale_records(grid, store) if stale is None else stale
    out = {}
    for s in grid.specs:
        if store.has(s.run_id):
            out[s.run_id] = "recorded"
        elif s.run_id in jobs and follow.category(jobs[s.run_id]) in ("running", "pending"):
            out[s.run_id] = follow.category(jobs[s.run_id])
        elif store.failure(s.run_id) or (s.run_id in jobs and follow.category(jobs[s.run_id]) == "failed"):
            out[s.run_id] = "failed"
        elif s.run_id in stale:
            out[s.run_id] = "stale"
        else:
            out[s.run_id] = "missing"
    return out


def main(args: argparse.Namespace) -> int:
    from bench.store import Store

    g = load_grid(args, f"bench status {args.grid}")
    store = Store(args.results)
    unresolved = [(s, s.resolve_error()) for s in g.specs if s.resolve_error()]
    if unresolved:
        s0, err = unresolved[0]
        print(f"{len(unresolved)} cell(s) cannot be resolved here, so their run ids are provisional and no record "
              f"can match them; first, cell #{s0.cell}: {err}")
    stale = stale_records(g, store)
    producers = show_producers(g, store)
    states = cell_states(g, store, stale)
    counts: dict[str, int] = {}
    for s in g.specs:
        st = states[s.run_id]
        counts[st] = counts.get(st, 0) + 1
        line = f"#{s.cell:<3d} {st:9s} {s.run_id}  [{s.case or '-'}]"
        if st == "recorded":
            try:
                m = store.read(s.run_id)["metrics"]
            except Exception:  # noqa: BLE001 - replaced or quarantined since has(): reported by the store
                m = {}
            line += f"  top1={m.get('top1', float('nan')):.2f}" if isinstance(m.get("top1"), float) else ""
        elif st == "stale":
            line += f"  record {stale[s.run_id]['run_id']} is stale ({stale[s.run_id]['why']}); it will be rerun"
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
    if store.skipped:
        print(f"skipped {len(store.skipped)} bad file(s), not counted as recorded (moved to {store.quarantine_dir}):")
        for e in store.skipped:
            print(f"  {e['path']}: {e['reason']}")
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
