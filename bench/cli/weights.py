"""``bench weights [GRID|CONFIG]``: every weights tag a grid or method config needs, and its status.

For each tag: what it is configured to (user config ``weights:`` or ``BENCH_WEIGHTS_<TAG>``), its
status (ok / missing / unreadable / unrecognised layout / mismatch / synthetic), the recognised layout
and the released file it expects, by its public name. Without an argument, every shipped real-size
config of every method. Exit code 1 when a tag is not ok.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="list the weights tags a grid or config needs and whether each file fits")
    p.add_argument("target", nargs="?", help="a grid YAML, a method config (.py), or METHOD:SIZE; default: every "
                                             "real-size config of every method")
    p.add_argument("--profile", help="grid profile (e.g. paper)")
    p.set_defaults(func=main)


def _configs(target: str | None, profile: str | None) -> list[tuple[str, Any]]:
    from bench.method import load_config
    from bench.registry import METHODS

    if target is None:
        return [(f"{m}:{s}", load_config(m, s)) for m, info in METHODS.items() for s in info.sizes if s != "tiny"]
    if target.endswith((".yaml", ".yml")):
        from bench import grid as grid_mod
        from bench.job import _resolve_cfg

        g = grid_mod.load(target, profile=profile)
        return [(f"{target} cell #{s.cell} ({s.case or s.run_id})", _resolve_cfg(s)) for s in g.specs]
    if target.endswith(".py") and Path(target).is_file():
        from mmengine.config import Config

        import methods  # noqa: F401 - registers the recognizers the config names

        return [(target, Config.fromfile(target))]
    if ":" in target:
        method, size = target.split(":", 1)
        return [(target, load_config(method, size))]
    from bench.errors import ConfigError

    raise ConfigError(f"bench weights {target!r}: give a grid YAML, a method config .py file, or METHOD:SIZE "
                      "(see `bench ls methods`)")


def rows_for(target: str | None, profile: str | None = None) -> list[dict[str, Any]]:
    """One row per distinct (field, tag), with the configs that need it."""
    from bench.models.weights import check_need, needs

    seen: dict[tuple[str, str], dict[str, Any]] = {}
    checked: dict[tuple[str, str, str], dict[str, Any]] = {}
    for name, cfg in _configs(target, profile):
        for need in needs(cfg.model):
            key = (need.where, need.tag)
            if key not in seen:
                # the same tag fitting the same part is checked once (a grid's cells share it)
                ck = (need.tag, need.family, need.model)
                row = dict(checked.get(ck) or check_need(need))
                checked[ck] = row
                row = dict(row, where=need.where, needed_by=[])
                seen[key] = row
            seen[key]["needed_by"].append(name)
    return list(seen.values())


def main(args: argparse.Namespace) -> int:
    rows = rows_for(args.target, args.profile)
    if not rows:
        print("no weights tags: every model part starts from random initialisation")
        return 0
    for r in rows:
        users = r["needed_by"]
        used = users[0] if len(users) == 1 else f"{len(users)} cells/configs (e.g. {users[0]})"
        print(f"{r['tag']}  [{r['status']}]")
        print(f"    field:      {r['where']}  ({used})")
        print(f"    configured: {r['configured'] or '-  (not configured)'}")
        print(f"    expects:    {r['expects']}")
        if r.get("layout"):
            extra = f", activation {r['activation']}" if r.get("activation") else ""
            ign = f", ignores {len(r['ignored'])} keys" if r.get("ignored") else ""
            print(f"    layout:     {r['layout']}{extra}{ign}")
        if r["message"] and r["status"] != "missing":
            print(f"    problem:    {r['message']}")
    bad = [r for r in rows if r["status"] not in ("ok", "synthetic")]
    print(f"{len(rows) - len(bad)} of {len(rows)} weights tags ok")
    return 1 if bad else 0
