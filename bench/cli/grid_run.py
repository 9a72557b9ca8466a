"""``bench run --grid``: validate every cell, submit those without records, optionally follow them."""

from __future__ import annotations

import argparse
import fnmatch
import logging
import time
from pathlib import Path

from bench.errors import BenchError, ConfigError

log = logging.getLogger(__name__)


def add_cell_options(p: argparse.ArgumentParser) -> None:
    """``--set/--arg/--seed`` of ``bench status`` and ``bench validate``: the cells ``bench run --grid`` ran."""
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="as given to bench run --grid")
    p.add_argument("--arg", action="append", metavar="KEY=VALUE", help="as given to bench run --grid")
    p.add_argument("--seed", type=int, help="as given to bench run --grid")


def load_grid(args: argparse.Namespace, what: str):
    """The grid of ``args.grid`` under ``args.profile`` with the command line's ``--set/--arg/--seed`` applied."""
    from bench import grid as grid_mod
    from bench.cli.pairs import parse_pairs

    grid = grid_mod.load(args.grid, profile=args.profile)
    return grid_mod.with_command_line(grid, parse_pairs(getattr(args, "set", None), "--set"),
                                      parse_pairs(getattr(args, "arg", None), "--arg"), getattr(args, "seed", None),
                                      what=what)


def select(specs, only: str | None):
    if not only:
        return specs
    return [s for s in specs if fnmatch.fnmatch(s.case or "", only) or fnmatch.fnmatch(s.run_id, only)]


def describe_setting(grid) -> str:
    datasets = sorted({s.dataset for s in grid.specs})
    sizes = sorted({s.size for s in grid.specs})
    return (f"grid {grid.name} ({grid.path}): profile {grid.profile!r}, {len(grid.specs)} cells, "
            f"method {grid.specs[0].method}, protocol {grid.specs[0].protocol}, datasets {datasets}, sizes {sizes}")


def record_state(store, run_id: str) -> str:
    """``recorded``, ``failed`` or ``missing``: what the store holds for a run id."""
    return "recorded" if store.has(run_id) else ("failed" if store.failure(run_id) else "missing")


def add_labels(labels: dict[str, list[dict]], grid) -> dict[str, list[dict]]:
    """``labels`` (run id -> ``{"grid", "case"}`` labels, ``bench.tables.relabel``) with every cell of ``grid``."""
    for s in grid.specs:
        lab = {"grid": grid.name, "case": s.case}
        if lab not in labels.setdefault(s.run_id, []):
            labels[s.run_id].append(lab)
    return labels


def dry_run(specs, store) -> int:
    for s in specs:
        state = record_state(store, s.run_id)
        ov = ", ".join(f"{k}={v}" for k, v in sorted(s.overrides.items()))
        print(f"#{s.cell}: [{s.case or '-'}] {ov or '(base)'}  seed={s.seed}  run_id={s.run_id}  {state}")
    return 0


def method_notes(grid, specs, launcher_overrides) -> None:
    """What a method says about its cells on the grid's launcher profile (ftp: each stage's global batch)."""
    from bench import profiles
    from bench.job import _resolve_cfg
    from bench.method import get_method

    prof = profiles.load_profile(grid.launcher.get("profile", "local"),
                                 {**{k: v for k, v in grid.launcher.items() if k != "profile"}, **launcher_overrides})
    world = max(1, int(prof.get("nodes") or 1)) * max(1, int(prof.get("gpus_per_node") or prof.get("tasks_per_node")
                                                             or 1))
    shown: dict[tuple, list[str]] = {}
    for s in specs:
        notes = getattr(get_method(s.method), "dry_run_notes", None)
        if notes is None:
            continue
        lines = tuple(notes(_resolve_cfg(s), world))
        shown.setdefault(lines, []).append(s.case or s.run_id)
    for lines, cases in shown.items():
        if lines:
            print(f"on {world} GPU(s) ({len(cases)} cell(s), e.g. {cases[0]}):")
            for line in lines:
                print(f"  {line}")


def run_grid(args: argparse.Namespace) -> int:
    from bench import follow, job, launch, profiles
    from bench.store import Store

    launcher_overrides = profiles.parse_overrides(args.launcher or [])
    given = [f"--{k}" for k in ("method", "protocol", "dataset", "size") if getattr(args, k, None)]
    if given:
        raise ConfigError(f"bench run --grid {args.grid}: {', '.join(given)} cannot be used with --grid (the grid file "
                          "names its cells' method, protocol, dataset and size per profile); accepted with --grid: "
                          "--profile, --set, --arg, --seed, --only, --executor, --launcher")
    grid = load_grid(args, f"bench run --grid {args.grid}")
    store = Store(args.results)
    specs = select(grid.specs, args.only)
    if not specs:
        raise ConfigError(f"--only {args.only!r} matches none of the {len(grid.specs)} cells of {args.grid}")
    print(describe_setting(grid))
    if args.dry_run:
        method_notes(grid, specs, launcher_overrides)
        return dry_run(specs, store)
    t0 = time.time()
    job.validate_cells(specs, what=f"grid {args.grid}")
    print(f"validated {len(specs)} cells in {time.time() - t0:.1f} s")
    executor = args.executor or grid.executor
    prof_name = grid.launcher.get("profile", "local")
    prof = profiles.load_profile(prof_name, {**{k: v for k, v in grid.launcher.items() if k != "profile"},
                                             **launcher_overrides})
    if args.redo and args.resume:
        raise ConfigError("--redo (start from scratch) and --resume (reuse earlier work) exclude each other")
    launched = launch.submit(specs, executor, prof, None, store.root, grid=grid.name, skip_existing=not args.redo,
                             resume=args.resume, redo=args.redo)
    print(f"{len(launched)} submitted to {executor} ({prof_name}); {len(launched.skipped)} already recorded or running")
    if launched and (args.wait or executor == "debug"):
        states = follow.wait(list(launched), progress=True, run_ids=launched.run_ids, store_root=store.root)
        failed = [r for r, st in zip(launched.run_ids, states, strict=True) if st == "failed"]
        print(f"finished in {time.time() - t0:.1f} s: {len(states) - len(failed)} done, {len(failed)} failed")
        for r in failed:
            info = store.failure(r) or {}
            print(f"  failed {r}: {info.get('error', 'no failure file; see bench status')}")
    elif launched:
        print(f"follow with: bench status {args.grid}")
    build_outputs(grid, store)
    recorded = sum(store.has(s.run_id) for s in specs)
    print(f"{recorded}/{len(specs)} cells have records in {store.runs}")
    return 0 if recorded == len(specs) or not (args.wait or executor == "debug") else 1


def build_outputs(grid, store) -> None:
    """Regenerate the grid's table (``table:``, a spec in results/tables) and its plot from the records.

    ``plot:`` names the kind of figure drawn from the same spec: ``pareto`` (accuracy vs GFLOPs)
    or ``axis`` (the metric against the ablated axis, e.g. number of prompts).
    """
    if not grid.table:
        return
    from bench import grid as grid_mod
    from bench import plots, tables

    spec = grid_mod.table_spec_path(grid.table, grid.path)
    labels = add_labels({}, grid)
    try:
        written = list(tables.render(spec, results=store.root, labels=labels).values())
        if grid.plot == "pareto":
            written += list(plots.plot_pareto(spec, results=store.root, labels=labels)["figures"])
        elif grid.plot == "axis":
            written += list(plots.plot_axis(spec, results=store.root, labels=labels))
        elif grid.plot:
            raise ConfigError(f"grid {grid.name}: plot={grid.plot!r}; accepted: pareto, axis")
    except BenchError as e:
        print(f"could not regenerate the outputs of grid {grid.name} from {spec}: {e}")
        return
    for out in written:
        print(f"wrote {out}")
    md = next((p for p in written if str(p).endswith(".md")), None)
    if md is not None:
        print()
        print(Path(md).read_text())
