"""alt's linguistic resources: NLTK's English stop words, CamelCase labels, WordNet 3.0 through NLTK, Lesk."""

from __future__ import annotations

import pytest

from bench.errors import DataError
from bench.text import lexical
from bench.text.build import build, load_artefact
from bench.text.parsing import content_words, label_units


def test_stop_words_are_nltks_english_list() -> None:
    words = lexical.stop_words()
    assert len(words) == 179  # NLTK's stopwords corpus, english file
    # the words the old 44-word list kept as entities (K400 labels 'doing nails', 'jumping through ...', 'not ...')
    assert {"doing", "through", "not", "don't", "won't", "yourselves"} <= words
    assert label_units("doing nails") == ["nails"]
    assert label_units("skiing (not slalom or crosscountry)") == ["crosscountry", "skiing", "slalom"]
    assert content_words("they don't jump") == {"jump"}


def test_camel_case_labels_are_split() -> None:
    assert label_units("ApplyEyeMakeup") == ["apply", "eye", "makeup"]  # UCF-101
    assert label_units("BlowDryHair") == ["blow", "dry", "hair"]
    assert label_units("PlayingDaf") == ["daf", "playing"]
    assert label_units("playing guitar") == ["guitar", "playing"]


def test_wordnet_30_opens_through_nltk_and_lesk_picks_the_documented_sense() -> None:
    wn = lexical.wordnet()
    assert wn.get_version() == "3.0"
    assert wn.synsets("dog")[0].name() == "dog.n.01"
    assert wn.synset("dog.n.01").lexname() == "noun.animal"  # lexnames (the file Debian's package lacks)
    # nltk.wsd.lesk's documented example: 'bank' next to 'deposit' and 'money' is the financial institution
    assert lexical.lesk_synset("bank", ["went", "bank", "deposit", "money"]).name() == \
        "depository_financial_institution.n.01"
    assert lexical.lesk_synset("xqzzy", ["x"]) is None
    assert lexical.wordnet_status().startswith("available: WordNet 3.0")


def test_missing_wordnet_fails_with_the_install_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BENCH_WORDNET_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"WordNet database not found at .*nowhere.*apt-get install wordnet-base"):
        lexical.wordnet()
    assert lexical.wordnet_status().startswith("unavailable: WordNet database not found")


def test_entity_corpus_records_its_resources_and_takes_wordnet_glosses(world, tmp_path, monkeypatch) -> None:
    view, _ = world
    build("alt", view.name, view=view, progress=False)
    art = load_artefact(view.name, "entity_corpus")
    res = art["resources"]
    assert res["stop_words"].startswith("NLTK stopwords corpus, english (179 words")
    assert res["wordnet"].startswith("WordNet 3.0 (") and "nltk.wsd.lesk" in res["wsd"]
    units = {e["unit"]: e for e in art["entities"]}
    ball = units["ball"]  # single word: the gloss of the synset Lesk picks against its labels
    name = ball["description_source"].removeprefix("wordnet:")
    assert ball["description"] == lexical.wordnet().synset(name).definition()
    assert units["jump net"]["description_source"] == "llm"  # phrases keep the LLM's descriptions
    # a missing database stops the build with the install command, nothing is written silently without it
    monkeypatch.setenv("BENCH_WORDNET_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="apt-get install wordnet-base"):
        build("alt", view.name, view=view, progress=False)
    (plain,) = build(None, view.name, need="entity_corpus", need_options={"wordnet": False}, view=view,
                     progress=False)
    art = load_artefact(view.name, "entity_corpus")
    assert art["resources"]["wordnet"].startswith("not used")
    assert all(e["description_source"] == "llm" for e in art["entities"])
