"""Profiles in slurm/*.yaml: shipped ones load, overrides merge, bad names and fields are refused loudly."""

from __future__ import annotations

import pytest

from bench import profiles
from bench.errors import ConfigError

SHIPPED = ("local", "local_cluster", "paper", "paper_multigpu")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profiles_load_with_every_field(name):
    p = profiles.load_profile(name)
    assert set(profiles.FIELDS) <= set(p) and p["profile"] == name
    assert p["executor"] in profiles.EXECUTORS and p["description"]


def test_shipped_profiles_hold_what_the_docs_promise():
    paper = profiles.load_profile("paper")
    assert (paper["gpus_per_node"], paper["cpus_per_task"], paper["mem_gb"], paper["timeout_min"]) == (1, 10, 64, 1440)
    multi = profiles.load_profile("paper_multigpu")
    assert (multi["gpus_per_node"], multi["tasks_per_node"]) == (4, 4)
    cluster = profiles.load_profile("local_cluster")
    assert (cluster["partition"], cluster["cpus_per_task"], cluster["gpus_per_node"]) == ("debug", 1, 0)
    assert cluster["mem_gb"] <= 2  # the test node has at most 8000 MB, jobs run two at a time
    assert profiles.load_profile("local")["executor"] == "local"


def test_overrides_replace_fields_and_merge_additional_parameters():
    p = profiles.load_profile("paper", {"timeout_min": 30, "additional_parameters": {"mail-type": "FAIL"}})
    assert p["timeout_min"] == 30 and p["additional_parameters"] == {"mail-type": "FAIL"}
    q = profiles.load_profile("paper", ["qos=high", "mem_gb=12.5", "setup=[module load cuda]"])
    assert q["qos"] == "high" and q["mem_gb"] == 12.5 and q["setup"] == ["module load cuda"]


def test_unknown_field_lists_the_accepted_ones():
    with pytest.raises(ConfigError) as e:
        profiles.load_profile("paper", {"gpu_per_node": 2})
    assert "gpu_per_node" in str(e.value) and "gpus_per_node" in str(e.value) and "timeout_min" in str(e.value)


def test_bad_values_are_refused():
    with pytest.raises(ConfigError, match="timeout_min='long'.*int"):
        profiles.load_profile("paper", {"timeout_min": "long"})
    with pytest.raises(ConfigError, match="gpus_per_node=True"):
        profiles.load_profile("paper", {"gpus_per_node": True})
    with pytest.raises(ConfigError, match="cpus_per_task=0"):
        profiles.load_profile("paper", {"cpus_per_task": 0})
    with pytest.raises(ConfigError, match="executor='k8s'"):
        profiles.load_profile("paper", {"executor": "k8s"})
    with pytest.raises(ConfigError, match="field=value"):
        profiles.parse_overrides(["timeout_min"])


def test_missing_profile_lists_available_ones():
    with pytest.raises(ConfigError) as e:
        profiles.load_profile("papr")
    assert "papr" in str(e.value) and all(n in str(e.value) for n in SHIPPED)


def test_user_folder_shadows_the_repo_and_paths_load(tmp_path, monkeypatch):
    (tmp_path / "paper.yaml").write_text("executor: slurm\npartition: a100\ngpus_per_node: 2\n")
    (tmp_path / "mine.yaml").write_text("executor: local\ntimeout_min: 5\n")
    monkeypatch.setenv("BENCH_SLURM_PROFILES", str(tmp_path))
    assert profiles.load_profile("paper")["partition"] == "a100"
    assert "mine" in profiles.available_profiles() and "local_cluster" in profiles.available_profiles()
    assert profiles.load_profile(str(tmp_path / "mine.yaml"))["timeout_min"] == 5
    (tmp_path / "bad.yaml").write_text("executor: slurm\nmem: 4G\n")
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['mem'\] in .*bad.yaml"):
        profiles.load_profile("bad")
    with pytest.raises(ConfigError, match="does not exist"):
        profiles.load_profile(str(tmp_path / "nope.yaml"))
