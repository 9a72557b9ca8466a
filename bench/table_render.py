"""Rendering a ``bench.table_struct.Table`` (built by ``bench.tables``) as Markdown, booktabs LaTeX and CSV.

Markdown and LaTeX mark the best value of a column in bold and the second best underlined, and
write mean ± std where a cell averages several records; CSV keeps the numbers unformatted (mean
and std in their own columns) for further analysis.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from bench.table_struct import DASH, DEFAULT_FMT, Cell, Table


def _fmt(col: dict[str, Any], cell: Cell) -> str:
    if cell.value is None:
        return DASH
    if isinstance(cell.value, str):
        return cell.value
    fmt = col.get("fmt") or DEFAULT_FMT.get(col.get("field", ""), ".1f")
    text = f"{int(round(cell.value)):d}" if fmt == "d" else format(cell.value, fmt)
    if cell.std is not None:
        text += f" ± {format(cell.std, fmt if fmt != 'd' else '.1f')}"
    return text


def _diff_names(table: Table) -> set[str]:
    return set(table.diffs[0]) if table.diffs else set()


def layout(table: Table) -> list[dict[str, Any]]:
    """The rendered columns: the spec's, each difference column (issue 23) right after its metric's."""
    out = []
    for c in table.columns:
        out.append(c)
        if c["name"] in _diff_names(table):
            out.append({"name": f"Δ {c['name']}", "diff_of": c["name"], "fmt": c.get("fmt") or ".1f"})
    return out


def format_diff(d: dict[str, Any] | None, fmt: str = ".1f") -> str:
    """``+2.6 [+0.5, +4.7]*`` (``*``: the CI excludes 0); ``n/a`` when there is no difference to show."""
    if not d or "diff" not in d:
        return "n/a"
    lo, hi = d["ci"]
    text = f"{d['diff']:+{fmt}} [{lo:+{fmt}}, {hi:+{fmt}}]"
    return text + ("*" if d.get("significant") else "")


def _diff_text(d: dict[str, Any], fmt: str) -> str:
    if d.get("reference"):
        return "ref"
    if not d:
        return DASH
    text = format_diff(d, fmt)
    if "mcnemar_p" in d:
        text += f" p={d['mcnemar_p']:.2g}"
    return text


def _texts(table: Table) -> list[list[str]]:
    out = []
    marks = table.marks or [""] * len(table.rows)
    cols = layout(table)
    names = [c["name"] for c in table.columns]
    for i, (cells, origin, mark) in enumerate(zip(table.rows, table.origins, marks)):
        texts = [_diff_text(table.diffs[i][c["diff_of"]], c["fmt"]) if "diff_of" in c
                 else _fmt(c, cells[names.index(c["name"])]) for c in cols]
        if origin != "published":
            texts[0] += " †"
        if mark:
            texts[0] += f" {mark}"
        out.append(texts)
    return out


def _cells(table: Table, cells: list[Cell]) -> list[Cell]:
    """The row's cells in ``layout`` order (a difference column has an unranked empty cell)."""
    names = [c["name"] for c in table.columns]
    return [Cell() if "diff_of" in c else cells[names.index(c["name"])] for c in layout(table)]


def _is_text(col: dict[str, Any]) -> bool:
    return "field" in col and "fmt" not in col and col["field"] not in DEFAULT_FMT


def to_markdown(table: Table) -> str:
    """GitHub Markdown: **best**, <u>second-best</u>, footnotes below."""
    cols = layout(table)
    head = [c["name"] for c in cols]
    lines = [f"**{table.title}**", "", "| " + " | ".join(head) + " |",
             "|" + "|".join(":---" if _is_text(c) else "---:" for c in cols) + "|"]
    for cells, texts in zip(table.rows, _texts(table)):
        row = []
        for cell, t in zip(_cells(table, cells), texts):
            t = t.replace("|", "\\|")
            row.append(f"**{t}**" if cell.rank == 1 else f"<u>{t}</u>" if cell.rank == 2 else t)
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines += [f"- {n}" for n in table.footnotes]
    lines.append("- Bold: best in a column; underlined: second best.")
    return "\n".join(lines) + "\n"


_TEX_ESCAPE = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\~{}",
               "^": r"\^{}", "±": r"$\pm$", "—": "---", "†": r"$^\dagger$", "‡": r"$^\ddagger$", "§": r"\S{}",
               "×": r"$\times$"}


def _tex(text: str) -> str:
    return "".join(_TEX_ESCAPE.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A booktabs table: \\textbf best, \\underline second-best, notes in a footnotesize block."""
    cols = layout(table)
    align = "".join("l" if _is_text(c) else "r" for c in cols)
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{_tex(table.title)}}}", rf"\label{{tab:{table.name}}}",
             rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(_tex(c["name"]) for c in cols) + r" \\",
             r"\midrule"]
    for cells, texts in zip(table.rows, _texts(table)):
        row = []
        for cell, t in zip(_cells(table, cells), texts):
            t = _tex(t)
            row.append(rf"\textbf{{{t}}}" if cell.rank == 1 else rf"\underline{{{t}}}" if cell.rank == 2 else t)
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.footnotes:
        lines.append(r"\par\footnotesize " + r" \\ ".join(_tex(n) for n in table.footnotes))
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def csv_header(table: Table) -> list[str]:
    """Fixed column order: origin, then each spec column (and its std for metric columns)."""
    head = ["origin"]
    for c in table.columns:
        head.append(c["name"])
        if "metric" in c:
            head.append(f"{c['name']} std")
        if c["name"] in _diff_names(table):
            head += [f"Δ {c['name']}{s}" for s in ("", " low", " high", " significant", " McNemar p", " test",
                                                   " why")]
    return head


def write_csv(table: Table, path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(csv_header(table))
        for i, (cells, origin) in enumerate(zip(table.rows, table.origins)):
            row: list[Any] = [origin]
            for c, cell in zip(table.columns, cells):
                row.append("" if cell.value is None else cell.value)
                if "metric" in c:
                    row.append("" if cell.std is None else cell.std)
                if c["name"] in _diff_names(table):
                    d = table.diffs[i][c["name"]]
                    if d.get("reference"):
                        row += [0.0, "", "", "", "", "reference", ""]
                    elif "diff" in d:
                        row += [d["diff"], d["ci"][0], d["ci"][1], d["significant"], d.get("mcnemar_p", ""),
                                d.get("kind", ""), ""]
                    else:
                        row += ["", "", "", "", "", "", d.get("why", "published row: no predictions")]
            w.writerow(row)
