"""The papers' prompts as templates: verbatim wording, placeholder checks, ensembles."""

from __future__ import annotations

import pytest

from bench.errors import ConfigError
from bench.text.templates import ensemble, get_template, load_prompt_file, prompt_names, render_ensemble


def test_ftp_prompts_are_the_papers_four():
    assert [get_template(f"ftp/{p}").render() for p in "ABCD"] == [
        "What is the action category?",
        "Describe the action components in the image",
        "Describe the action in the image in detail",
        "Describe the context information",
    ]


def test_vlc_and_alt_templates_render_with_their_placeholders():
    text = get_template("vlc/expand").render(action_name="archery", keywords="bow, arrow, target")
    assert text == ("Here is the identifying visual characteristics for the action [archery]: bow, arrow, target. "
                    "Please describe the action in different sentences by using the keywords above.")
    assert get_template("vlc/decompose").render(action_list="a, b").startswith("Here is the action list [a, b]. what")
    assert get_template("alt/units").render(label="archery") == (
        "What are identifying object/body parts/scenes/roles of an action archery? List them concisely.")
    assert get_template("alt/describe_sentence").render(phrase_unit="bow") == "Concisely explain bow in one sentence"


def test_bike_prompt_takes_one_positional_value():
    assert get_template("bike/attributes").render("archery, bow") == "This is a video about archery, bow"
    with pytest.raises(ConfigError, match="positional"):
        get_template("bike/attributes").render()


def test_unknown_placeholder_in_render_names_file_and_accepted():
    with pytest.raises(ConfigError) as e:
        get_template("vlc/expand").render(action_name="x", keywords="y", colour="red")
    msg = str(e.value)
    assert "vlc.yaml" in msg and "colour" in msg and "action_name, keywords" in msg


def test_missing_placeholder_is_an_error():
    with pytest.raises(ConfigError, match="needs placeholder"):
        get_template("vlc/expand").render(action_name="x")


def test_template_file_with_undeclared_placeholder_is_refused(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("templates:\n  q:\n    placeholders: [label]\n    text: 'What is {label} in {scene}?'\n")
    with pytest.raises(ConfigError) as e:
        load_prompt_file(bad)
    assert str(bad) in str(e.value) and "{scene}" in str(e.value) and "label" in str(e.value)


def test_every_shipped_prompt_file_loads():
    from bench.text.templates import prompts

    assert {"vlc", "alt", "ftp", "bike"} <= set(prompt_names())
    for name in prompt_names():
        pf = prompts(name)
        assert pf.templates and pf.meta.get("source")


def test_ensembles():
    clip = ensemble("clip_kinetics")
    assert len(clip) == 28 and len(set(clip)) == 28 and "a video of a person {}." in clip
    assert len(ensemble("actionclip")) == 16
    assert render_ensemble("actionclip", "archery")[2] == "Human action of archery"
    with pytest.raises(ConfigError, match="available"):
        ensemble("nope")
