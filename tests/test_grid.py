"""Grid YAML: expansion, include, and refusal of bad grids with every problem listed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench import grid, job
from bench.errors import ConfigError, ValidationError

BASE = """
name: g
base: {method: clip_meanpool, protocol: supervised, seed: 0}
profiles:
  default: {size: tiny, dataset: syn_k400, executor: local, launcher: {profile: local}}
"""


def write(tmp_path, text, name="g.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_expansion_cases_grid_zip_seeds(tmp_path):
    p = write(tmp_path, BASE + """
cases: {a: {model.backbone.frozen: true}, b: {model.backbone.frozen: false}}
grid: {train_cfg.max_epochs: [1, 2]}
zip: [{num_frames: [4, 8], protocol_args.views: ["1x1", "2x1"]}]
seeds: [0, 1]
""")
    g = grid.load(p)
    assert len(g.specs) == 2 * 2 * 2 * 2
    assert len({s.run_id for s in g.specs}) == 16
    s = g.specs[0]
    assert s.case == "a" and s.grid == "g" and s.dataset == "syn_k400" and s.size == "tiny"
    assert {(x.overrides["num_frames"], x.protocol_args["views"]) for x in g.specs} == {(4, "1x1"), (8, "2x1")}
    assert [x.cell for x in g.specs] == list(range(16))


def test_profile_zip_varies_protocol_dataset_and_protocol_args_together(tmp_path):
    # a profile's own zip group (per-profile datasets of the protocol columns); `protocol_args` as one mapping
    p = write(tmp_path, BASE.replace("launcher: {profile: local}}", """launcher: {profile: local},
             zip: [{protocol: [supervised, fewshot], dataset: [syn_k400, syn_hmdb],
                    protocol_args: [{views: 1x1}, {shots: 2}]}]}""") + "cases: {a: {}, b: {}}\n")
    g = grid.load(p)
    got = [(s.case, s.protocol, s.dataset, s.protocol_args) for s in g.specs]
    assert got == [("a", "supervised", "syn_k400", {"views": "1x1"}), ("a", "fewshot", "syn_hmdb", {"shots": 2}),
                   ("b", "supervised", "syn_k400", {"views": "1x1"}), ("b", "fewshot", "syn_hmdb", {"shots": 2})]


def test_include_merges_shared_base(tmp_path):
    write(tmp_path, BASE, "shared.yaml")
    p = write(tmp_path, "include: shared.yaml\nname: child\ncases: {x: {}}\n")
    g = grid.load(p)
    assert g.name == "child" and g.specs[0].method == "clip_meanpool"


def test_a_profile_removed_by_null_is_refused_as_removed_and_not_offered(tmp_path):
    # an including grid removes a profile with `name: null` (the SSV2 grids drop the synthetic default): the refusal
    # says so and offers only the profiles that remain, not the removed one
    paper = "launcher: {profile: local}}\n  paper: {size: tiny, dataset: syn_k400}"
    write(tmp_path, BASE.replace("launcher: {profile: local}}", paper),
          "shared.yaml")
    p = write(tmp_path, "include: shared.yaml\nname: child\nprofiles: {default: null}\ncases: {x: {}}\n")
    with pytest.raises((ConfigError, ValidationError)) as err:
        grid.load(p)
    assert "no profile 'default' (set to null in this grid: the profile is removed); profiles in this grid: ['paper']" \
        in str(err.value)
    assert grid.load(p, "paper").specs[0].size == "tiny"


@pytest.mark.parametrize(
    "text, match",
    [
        ("name: [unclosed", "not valid YAML"),
        ("!!python/object/apply:os.system ['echo hi']", "construct Python objects are refused"),
        (BASE + "bogus: 1\n", "unknown top-level keys \\['bogus'\\]"),
        (BASE + "grid: {x: []}\n", "non-empty lists"),
        (BASE.replace("default:", "other:"), "no profile 'default'"),
    ],
)
def test_bad_grids_are_refused(tmp_path, text, match):
    with pytest.raises((ConfigError, ValidationError), match=match):
        grid.load(write(tmp_path, text))


def test_all_problems_listed_before_submission(tmp_path):
    p = write(tmp_path, BASE + """
cases:
  bad_key: {model.backbone.no_such_field: 1}
  bad_weights: {model.backbone.clip_weights: /nonexistent/weights.pt}
  ok: {}
""")
    g = grid.load(p)
    with pytest.raises(ValidationError) as e:
        job.validate_cells(g.specs)
    msg = str(e.value)
    assert "2 problem(s)" in msg
    assert "no_such_field" in msg and "/nonexistent/weights.pt" in msg


def test_incompatible_protocol_and_unknown_names(tmp_path):
    from bench.method import get_method
    from bench.registry import METHODS

    if "test_supervised_only" not in METHODS:
        import dataclasses

        info = dataclasses.replace(get_method("clip_meanpool"), name="test_supervised_only", protocols=("supervised",))
        METHODS.register(info.name, info)
    text = BASE.replace("protocol: supervised", "protocol: zeroshot").replace("clip_meanpool", "test_supervised_only")
    p = write(tmp_path, text)
    with pytest.raises(ValidationError, match="does not support protocol 'zeroshot'"):
        job.validate_cells(grid.load(p).specs)
    p = write(tmp_path, BASE.replace("clip_meanpool", "no_such_method"))
    with pytest.raises(ValidationError, match="unknown method 'no_such_method'.*known methods: .*clip_meanpool"):
        job.validate_cells(grid.load(p).specs)


def test_command_line_set_arg_seed_reach_every_cell_and_change_its_run_id(tmp_path):
    # `bench run --grid G --set/--arg/--seed` used to be dropped silently: the cells ran without them
    from bench.spec import RunSpec

    p = write(tmp_path, BASE + """
cases: {a: {model.backbone.frozen: true}, b: {model.backbone.frozen: false}}
""")
    g = grid.load(p)
    g2 = grid.with_command_line(g, {"train_cfg.max_epochs": 2}, {"views": "2x1"}, 3)
    for before, after in zip(g.specs, g2.specs, strict=True):
        assert after.overrides == {**before.overrides, "train_cfg.max_epochs": 2}
        assert after.protocol_args == {**before.protocol_args, "views": "2x1"} and after.seed == 3
        assert after.case == before.case and after.run_id != before.run_id
        # the run id is that of the spec written out by hand
        by_hand = RunSpec(method="clip_meanpool", protocol="supervised", dataset="syn_k400", size="tiny", seed=3,
                          protocol_args={"views": "2x1"},
                          overrides={"model.backbone.frozen": before.overrides["model.backbone.frozen"],
                                     "train_cfg.max_epochs": 2})
        assert after.run_id == by_hand.run_id
    assert grid.with_command_line(g) is g


def test_command_line_refuses_what_would_collapse_the_grid(tmp_path):
    p = write(tmp_path, BASE + """
cases: {a: {model.backbone.frozen: true}, b: {model.backbone.frozen: false}}
seeds: [0, 1]
""")
    g = grid.load(p)
    with pytest.raises(ConfigError, match=r"--set model.backbone.frozen=True: grid g .* varies 'model.backbone.fro"):
        grid.with_command_line(g, {"model.backbone.frozen": True})
    with pytest.raises(ConfigError, match=r"varies 'model.backbone'"):  # a dotted parent of a varied key
        grid.with_command_line(g, {"model.backbone": {"frozen": True}})
    with pytest.raises(ConfigError, match=r"--seed 5: grid g .* already runs seeds \[0, 1\]"):
        grid.with_command_line(g, seed=5)


def test_bench_run_grid_refuses_method_dataset_and_applies_set(tmp_path, capsys):
    from bench.cli import main

    p = write(tmp_path, BASE + "cases: {a: {}}\n")
    assert main(["run", "--grid", str(p), "--dataset", "syn_ucf", "--dry-run", "--results", str(tmp_path / "r")]) == 2
    assert "--dataset cannot be used with --grid" in capsys.readouterr().err
    main(["run", "--grid", str(p), "--set", "train_cfg.max_epochs=2", "--dry-run", "--results", str(tmp_path / "r")])
    assert "train_cfg.max_epochs=2" in capsys.readouterr().out


def test_bench_run_single_dry_run_runs_nothing_and_grid_only_options_are_refused(tmp_path, capsys):
    # a single run used to ignore --dry-run (it trained) and --executor/--profile/--launcher/--only (it ran here)
    from bench.cli import main

    res = tmp_path / "r"
    single = ["run", "--method", "clip_meanpool", "--dataset", "syn_k400", "--results", str(res)]
    assert main(single + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: missing" in out and "nothing was run" in out and not res.exists()
    for extra in (["--executor", "slurm"], ["--profile", "paper"], ["--only", "x*"], ["--launcher", "qos=high"]):
        assert main(single + extra) == 2
        assert f"{extra[0]} only apply to --grid" in capsys.readouterr().err
    assert not res.exists()


def test_bench_status_sees_the_cells_run_with_set(tmp_path, capsys):
    from bench.cli import main

    p = write(tmp_path, BASE + "cases: {a: {}}\n")
    g = grid.with_command_line(grid.load(p), {"train_cfg.max_epochs": 2})
    main(["status", str(p), "--set", "train_cfg.max_epochs=2", "--results", str(tmp_path / "r")])
    assert g.specs[0].run_id in capsys.readouterr().out


def _default_profile_grids():
    import yaml

    out = []
    for path in sorted((Path(__file__).resolve().parents[1] / "ablations").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        profiles = dict(raw.get("profiles") or {})
        if "include" in raw and "default" not in profiles:  # inherited from the included grid
            profiles["default"] = {}
        if profiles.get("default", None) is not None:
            out.append(path)
    return out


@pytest.mark.parametrize("path", _default_profile_grids(), ids=lambda p: p.stem)
def test_every_grid_default_profile_passes_the_checks_made_before_submission(path):
    # What `bench validate` checks (splits, class lists, weights, overrides) for every grid the synthetic world
    # offers: ftp's K600 transfer grids once had a default profile on syn_k600, which has no training split, and
    # failed only when run; a grid without a runnable default profile writes `default: null`.
    g = grid.load(path, "default")
    job.validate_cells(g.specs, what=f"grid {path.name}")
