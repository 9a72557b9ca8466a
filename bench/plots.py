"""Accuracy-vs-GFLOPs Pareto plots, one-axis ablation plots and per-class difference plots.

Points come from the same table specs as ``bench.tables`` (published rows and measured
records, grouped by ``rows.key``); the spec's optional ``plot`` section picks the metric, the
family field (marker and colour) and, for ablation plots, the x axis. Published points are
hollow, measured points filled. GFLOPs follow fvcore's convention (1 MAC = 1 FLOP), as
the papers do; by default a point's cost is per view x views, ``--per-view`` plots one view.
Figures are written as PNG, PDF and SVG (matplotlib's Agg backend; no display needed).
"""

from __future__ import annotations

import csv
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from bench import settings  # noqa: E402
from bench.errors import ConfigError, DataError  # noqa: E402
from bench.table_struct import Entry, _norm, _num, matches  # noqa: E402
from bench.tables import DEFAULT_KEY, load_spec, select  # noqa: E402

MARKERS = "osD^v<>pPhX*"
FORMATS = ("png", "pdf", "svg")
X_LABEL = {False: "GFLOPs (1 MAC = 1 FLOP), per view × views", True: "GFLOPs (1 MAC = 1 FLOP), per view"}


@dataclass
class Point:
    label: str
    family: str
    origin: str
    x: float | None
    y: float | None
    std: float | None = None
    ci: tuple[float, float] | None = None  # one measured record's 95 % bootstrap CI (issue 23)


def pareto_front(points: list[Point]) -> tuple[list[Point], list[Point]]:
    """The points no other point beats (lower-or-equal x and higher-or-equal y, one strictly).

    Returns ``(front, left_out)``: front sorted by x; ``left_out`` are points without x or y.
    Exact ties (same x and y) are all on the front.
    """
    usable = [p for p in points if p.x is not None and p.y is not None]
    left_out = [p for p in points if p.x is None or p.y is None]
    front: list[Point] = []
    for p in sorted(usable, key=lambda p: (p.x, -p.y)):
        if not front or p.y > front[-1].y:
            front.append(p)
        elif p.y == front[-1].y and p.x == front[-1].x:
            front.append(p)
    return front, left_out


def points_from_spec(spec: dict[str, Any], entries: list[Entry], per_view: bool = False) -> list[Point]:
    """One point per row of the spec (grouped by ``rows.key``): its metric and its GFLOPs."""
    plot = spec.get("plot") or {}
    metric = plot.get("metric") or next((c["metric"] for c in spec.get("columns") or [] if "metric" in c), "top1")
    key = (spec.get("rows") or {}).get("key") or DEFAULT_KEY
    fam_field = plot.get("family", "method")
    xfield = "gflops_per_view" if per_view else "gflops_total"
    default_label = [k for k in ("method", "backbone", "frames", "variant") if k in key]
    label_fields = plot.get("label_fields") or default_label or key
    groups: dict[tuple, list[Entry]] = {}
    for e in entries:
        if e.metric == metric and matches(e.fields, plot.get("where")):
            groups.setdefault((e.origin, *(_norm(e.fields.get(k)) for k in key)), []).append(e)
    points = []
    for (origin, *_), group in groups.items():
        values = [e.value for e in group] if origin == "measured" else [group[0].value]
        std = statistics.stdev(values) if len(values) > 1 else group[0].std
        xs = [_num(e.fields.get(xfield)) for e in group]
        label = " ".join(_label_part(k, group[0].fields.get(k)) for k in label_fields if _norm(group[0].fields.get(k)))
        ci = group[0].ci if origin == "measured" and len(values) == 1 else None
        points.append(Point(label, _norm(group[0].fields.get(fam_field)) or "?", origin,
                            next((x for x in xs if x is not None), None), statistics.fmean(values), std, ci))
    if not points:
        raise ConfigError(f"spec {spec['name']!r}: no selected row has metric {metric!r}")
    return points


def _label_part(field: str, value: Any) -> str:
    return f"{_norm(value)}f" if field == "frames" else _norm(value)


def _style(families: list[str]) -> dict[str, tuple[str, str]]:
    cmap = plt.get_cmap("tab10" if len(families) <= 10 else "tab20")
    return {f: (MARKERS[i % len(MARKERS)], cmap(i % cmap.N)) for i, f in enumerate(sorted(families))}


def _overlaps(a, b) -> bool:
    return not (a.x1 < b.x0 or b.x1 < a.x0 or a.y1 < b.y0 or b.y1 < a.y0)


def place_labels(ax, items: list[tuple[float, float, str]], fontsize: int = 7) -> None:
    """Greedy label placement: try offsets around each point, keep the first that overlaps nothing."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    taken = []  # display-space boxes of placed labels and of the markers
    for x, y, _ in items:
        px, py = ax.transData.transform((x, y))
        taken.append(matplotlib.transforms.Bbox([[px - 4, py - 4], [px + 4, py + 4]]))
    offsets = [(dx * r, dy * r) for r in (6, 14, 24, 36) for dx, dy in
               ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))]
    for x, y, text in items:
        placed = None
        for dx, dy in offsets:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                              ha="left" if dx >= 0 else "right", va="bottom" if dy >= 0 else "top")
            box = ann.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(_overlaps(box, t) for t in taken) and ax.bbox.contains(box.x0, box.y0) \
                    and ax.bbox.contains(box.x1, box.y1):
                placed = (ann, box)
                break
            ann.remove()
        if placed is None:  # crowded: keep it at the farthest offset with a leader line
            ann = ax.annotate(text, (x, y), xytext=offsets[-8], textcoords="offset points", fontsize=fontsize,
                              arrowprops=dict(arrowstyle="-", lw=0.4, color="0.5"))
            placed = (ann, ann.get_window_extent(renderer))
        taken.append(placed[1])


def _legend(ax, style: dict[str, tuple[str, str]]) -> None:
    handles = [Line2D([], [], ls="", marker=m, color=c, label=f) for f, (m, c) in style.items()]
    handles += [Line2D([], [], ls="", marker="o", mfc="none", mec="0.3", label="hollow: published (paper)"),
                Line2D([], [], ls="", marker="o", color="0.3", label="filled: measured (this harness)"),
                Line2D([], [], color="0.4", ls="--", drawstyle="steps-post", label="Pareto front")]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
              ncol=1 if len(handles) <= 24 else 2, frameon=False)


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.{ext}" for ext in FORMATS]
    for p in paths:
        fig.savefig(p, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return paths


def _scatter(ax, points: list[Point], style: dict[str, tuple[str, str]]) -> None:
    for p in points:
        marker, colour = style[p.family]
        filled = p.origin != "published"
        ax.scatter([p.x], [p.y], marker=marker, s=36, linewidths=1.2, edgecolors=[colour],
                   facecolors=[colour] if filled else "none", zorder=3)
        if p.ci:  # a measured point's 95 % bootstrap CI, else the std over seeds / episodes
            ax.errorbar([p.x], [p.y], yerr=[[p.y - p.ci[0]], [p.ci[1] - p.y]], fmt="none", ecolor=colour, lw=0.8,
                        capsize=2, zorder=2)
        elif p.std:
            ax.errorbar([p.x], [p.y], yerr=[p.std], fmt="none", ecolor=colour, lw=0.8, zorder=2)


def inseparable(front: list[Point]) -> list[bool]:
    """Per front point: whether its 95 % CI overlaps a front neighbour's (the front cannot tell them apart).

    Points without a CI (published, several seeds) are never marked: nothing is known of their spread here.
    Overlapping CIs are a conservative reading (two runs can differ significantly in a paired test while
    their CIs overlap); ``bench compare`` gives the paired test of two runs."""
    out = [False] * len(front)
    for i in range(len(front) - 1):
        a, b = front[i].ci, front[i + 1].ci
        if a and b and a[0] <= b[1] and b[0] <= a[1]:
            out[i] = out[i + 1] = True
    return out


def plot_pareto(spec_path: Path | str, per_view: bool = False, out: Path | str | None = None,
                results: Path | None = None, labels: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Accuracy vs GFLOPs (log x) with the Pareto front; writes figures and ``<stem>_front.csv``."""
    spec = load_spec(spec_path)
    points = points_from_spec(spec, select(spec, results, labels=labels), per_view)
    front, left_out = pareto_front(points)
    plotted = [p for p in points if p not in left_out]
    if not plotted:
        raise DataError(f"spec {spec['name']!r}: none of {len(points)} points has GFLOPs "
                        f"({'per view' if per_view else 'total'}) and a value; nothing to plot")
    style = _style(sorted({p.family for p in plotted}))
    fig, ax = plt.subplots(figsize=(8, 5.5))
    _scatter(ax, plotted, style)
    fx = [p.x for p in front] + [max(p.x for p in plotted) * 1.5]
    ax.step(fx, [p.y for p in front] + [front[-1].y], where="post", ls="--", color="0.4", lw=1, zorder=1)
    tied = inseparable(front)
    if any(tied):
        ax.scatter([p.x for p, t in zip(front, tied) if t], [p.y for p, t in zip(front, tied) if t], s=140,
                   facecolors="none", edgecolors="0.3", linewidths=0.8, ls=":", zorder=4,
                   label="on the front, CI overlaps a front neighbour's")
    ax.set_xscale("log")
    ax.set_xlabel(X_LABEL[per_view])
    metric = (spec.get("plot") or {}).get("metric") or "top1"
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(spec.get("title", spec["name"]), fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    labelled = {id(p) for p in front} | {id(p) for p in plotted if p.origin != "published"}
    if (spec.get("plot") or {}).get("label") == "all":
        labelled = {id(p) for p in plotted}
    _legend(ax, style)
    place_labels(ax, [(p.x, p.y, p.label) for p in plotted if id(p) in labelled])
    if left_out:
        fig.text(0.01, 0.005, f"left out (no GFLOPs or value): {len(left_out)} point(s), listed in the front CSV",
                 fontsize=6, color="0.4")
    root = Path(results) if results is not None else settings.results_dir()
    out_dir = Path(out) if out else root / "figures"
    stem = f"{spec['name']}_pareto" + ("_per_view" if per_view else "")
    paths = _save(fig, out_dir, stem)
    front_csv = out_dir / f"{stem}_front.csv"
    with open(front_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["on_front", "label", "family", "origin", "gflops_per_view" if per_view else "gflops_total",
                    metric, "std", "ci_low", "ci_high", "inseparable_from_neighbour"])
        ci = lambda p: ["", ""] if p.ci is None else list(p.ci)  # noqa: E731
        for p, t in zip(front, tied):
            w.writerow(["yes", p.label, p.family, p.origin, p.x, p.y, "" if p.std is None else p.std, *ci(p), t])
        for p in left_out:
            w.writerow(["left_out", p.label, p.family, p.origin, p.x, p.y, "" if p.std is None else p.std, *ci(p),
                        ""])
    return {"figures": paths, "front_csv": front_csv, "front": front, "left_out": left_out, "inseparable": tied}


def _x_value(fields: dict[str, Any], xspec: dict[str, Any]) -> float | None:
    raw = _norm(fields.get(xspec.get("field") or xspec.get("from")))
    if "count_letters" in xspec:  # "A+B+D" -> 3, "none" -> 0 (FTP Table 7's prompt subsets)
        return float(sum(raw.count(ch) for ch in str(xspec["count_letters"]))) if raw else None
    return _num(raw)


def plot_axis(spec_path: Path | str, out: Path | str | None = None, results: Path | None = None,
              labels: dict[str, list[dict[str, Any]]] | None = None) -> list[Path]:
    """An ablation that varies one axis (``plot.x``) against a metric, one series per ``plot.series``.

    Each row is a point (hollow for published, filled for measured); a line joins the mean of
    the series at each x.
    """
    spec = load_spec(spec_path)
    plot = spec.get("plot") or {}
    xspec = plot.get("x")
    if not isinstance(xspec, dict) or not ({"field", "from"} & set(xspec)):
        raise ConfigError(f"spec {spec['name']!r}: an axis plot needs plot.x with 'field' (or 'from' + "
                          f"'count_letters'), got {xspec!r}")
    metric = plot.get("metric") or next((c["metric"] for c in spec.get("columns") or [] if "metric" in c), "top1")
    entries = [e for e in select(spec, results, labels=labels) if e.metric == metric]
    series = plot.get("series") or [{"name": "published (paper)", "origin": "published"},
                                    {"name": "measured (this harness)", "origin": "measured"}]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    cmap = plt.get_cmap("tab10")
    drawn = 0
    for i, s in enumerate(series):
        sel = [(_x_value(e.fields, xspec), e) for e in entries
               if e.origin == s.get("origin", e.origin) and matches(e.fields, s.get("where"))]
        sel = [(x, e) for x, e in sel if x is not None]
        pts = [(x, e.value) for x, e in sel]
        if not pts:
            continue
        drawn += 1
        filled = s.get("origin") == "measured"
        bars = [(x, e) for x, e in sel if e.ci]
        if bars:  # measured points' 95 % bootstrap CIs (issue 23)
            ax.errorbar([x for x, _ in bars], [e.value for _, e in bars], fmt="none", ecolor=cmap(i), lw=0.8,
                        capsize=2, zorder=2, yerr=[[e.value - e.ci[0] for _, e in bars],
                                                   [e.ci[1] - e.value for _, e in bars]])
        ax.scatter([x for x, _ in pts], [y for _, y in pts], s=30, marker=MARKERS[i], edgecolors=[cmap(i)],
                   facecolors=[cmap(i)] if filled else "none", zorder=3, label=s["name"])
        xs = sorted({x for x, _ in pts})
        ax.plot(xs, [statistics.fmean(y for x2, y in pts if x2 == x) for x in xs], color=cmap(i), lw=1,
                ls="-" if filled else "--")
    if not drawn:
        raise ConfigError(f"spec {spec['name']!r}: no series of plot.series has points with metric {metric!r}")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel(xspec.get("name") or xspec.get("field") or xspec.get("from"))
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(spec.get("title", spec["name"]), fontsize=9)
    ax.grid(True, alpha=0.25)
    ax.legend(fontsize=7, title="hollow: published, filled: measured; line: mean", title_fontsize=7)
    root = Path(results) if results is not None else settings.results_dir()
    return _save(fig, Path(out) if out else root / "figures", f"{spec['name']}_axis")


def plot_classes(run_a: str, run_b: str, out: Path | str | None = None, results: Path | None = None,
                 top: int = 10) -> list[Path]:
    """Per-class accuracy of run B minus run A, sorted, with the ``top`` largest gains and losses labelled."""
    from bench.store import Store

    store = Store(results)
    per_class = []
    for run in (run_a, run_b):
        if not store.has(run):
            raise DataError(f"no record for run {run!r} under {store.runs}")
        pc = (store.read(run).get("metrics") or {}).get("per_class")
        if not isinstance(pc, dict) or not pc:
            raise DataError(f"record {run!r} has no metrics.per_class (class name -> accuracy)")
        per_class.append(pc)
    common = sorted(set(per_class[0]) & set(per_class[1]))
    if not common:
        raise DataError(f"runs {run_a!r} and {run_b!r} share no class names")
    diffs = sorted(((float(per_class[1][c]) - float(per_class[0][c]), c) for c in common), reverse=True)
    fig, ax = plt.subplots(figsize=(max(6.0, min(16.0, 0.05 * len(diffs) + 5)), 4.5))
    colours = ["tab:green" if d > 0 else "tab:red" if d < 0 else "0.6" for d, _ in diffs]
    ax.bar(range(len(diffs)), [d for d, _ in diffs], color=colours, width=0.85)
    ax.axhline(0, color="0.3", lw=0.6)
    # Sorted bars leave the upper right and lower left empty: list the extremes there, so names never overlap.
    k = max(1, min(top, len(diffs) // 2))
    gains = "\n".join(f"{name}  {d:+.1f}" for d, name in diffs[:k] if d > 0)
    losses = "\n".join(f"{name}  {d:+.1f}" for d, name in reversed(diffs[-k:]) if d < 0)
    box = dict(boxstyle="round", fc="white", ec="0.7", alpha=0.9)
    if gains:
        ax.text(0.99, 0.98, f"largest gains\n{gains}", transform=ax.transAxes, ha="right", va="top", fontsize=7,
                bbox=box, family="monospace")
    if losses:
        ax.text(0.01, 0.02, f"largest losses\n{losses}", transform=ax.transAxes, ha="left", va="bottom", fontsize=7,
                bbox=box, family="monospace")
    ax.set_xticks([])
    ax.set_xlabel(f"classes sorted by difference ({len(diffs)} in common)")
    ax.set_ylabel(f"per-class accuracy: {run_b} − {run_a} (points)")
    mean = statistics.fmean(d for d, _ in diffs)
    ax.set_title(f"Per-class accuracy difference (mean {mean:+.2f})", fontsize=9)
    root = Path(results) if results is not None else settings.results_dir()
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", f"classes_{run_a}_vs_{run_b}")
    return _save(fig, Path(out) if out else root / "figures", stem)
