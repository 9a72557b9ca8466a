"""Linguistic resources of the alt corpus (alt paper, Sec. 3.1 and appendix A): NLTK stop words and WordNet.

* Stop words: NLTK's English list (the 179 words of the ``stopwords`` corpus, ``english`` file),
  packaged as ``data/english_stopwords.txt`` because NLTK's corpora are a separate download that
  runs never make. ``STOP_WORDS_SOURCE`` names it in the records.
* WordNet: the WordNet 3.0 database as Debian's ``wordnet-base`` package installs it
  (``/usr/share/wordnet``; another directory with ``BENCH_WORDNET_DIR`` or the user config's
  ``wordnet_dir``), opened with NLTK's own ``WordNetCorpusReader``. The Debian package lacks one
  small file the reader needs, ``lexnames`` (the fixed list of the 45 lexicographer files, given
  in the database's ``lexnames(5WN)`` manual page); the reader is handed that list from here.
  A missing database or NLTK is an error naming the install command: the corpus is never built
  without WordNet silently.
* Word-sense disambiguation: NLTK's ``nltk.wsd.lesk`` (the simplified Lesk of the NLTK book:
  the synset whose definition shares most words with the context), see ``methods/alt/README.md``.
"""

from __future__ import annotations

import functools
import io
import os
import re
import warnings
from pathlib import Path
from typing import Any

from bench.errors import DataError

STOP_WORDS_FILE = Path(__file__).parent / "data" / "english_stopwords.txt"
STOP_WORDS_SOURCE = "NLTK stopwords corpus, english (179 words; packaged copy bench/text/data/english_stopwords.txt)"
DEFAULT_WORDNET_DIR = "/usr/share/wordnet"
INSTALL_HINT = ("install the WordNet 3.0 database with 'apt-get install wordnet-base' (Debian/Ubuntu, as root; "
                "'make setup' does it) or point BENCH_WORDNET_DIR at a WordNet 3.0 'dict' folder")
# lexnames(5WN): file number, name, syntactic category (1 noun, 2 verb, 3 adjective, 4 adverb)
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body noun.cognition "
    "noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive noun.object "
    "noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape "
    "noun.state noun.substance noun.time verb.body verb.change verb.cognition verb.communication verb.competition "
    "verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession "
    "verb.social verb.stative verb.weather adj.ppl"
).split()
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
_DB_FILES = ("data.noun", "data.verb", "data.adj", "data.adv", "index.noun", "index.verb", "index.adj", "index.adv",
             "noun.exc", "verb.exc", "adj.exc", "adv.exc")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@functools.cache
def stop_words() -> frozenset[str]:
    words = [w.strip() for w in STOP_WORDS_FILE.read_text().splitlines() if w.strip()]
    return frozenset(words)


def split_camel_case(label: str) -> str:
    """``"ApplyEyeMakeup"`` -> ``"Apply Eye Makeup"`` (UCF-101's class names); other labels unchanged."""
    return _CAMEL.sub(" ", label)


def wordnet_dir() -> Path:
    from bench import settings

    return Path(os.environ.get("BENCH_WORDNET_DIR") or settings.user_config().get("wordnet_dir")
                or DEFAULT_WORDNET_DIR).expanduser()


@functools.cache
def _reader(db_text: str) -> Any:
    db = Path(db_text)
    try:
        import nltk
        from nltk.corpus.reader.wordnet import WordNetCorpusReader
    except ImportError as e:
        raise DataError(f"NLTK is not installed ({e}); install the project ('make setup' or "
                        f"'pip install -e .' with constraints.txt)") from e
    missing = [f for f in _DB_FILES if not (db / f).is_file()]
    if missing:
        where = "BENCH_WORDNET_DIR / wordnet_dir" if db_text != DEFAULT_WORDNET_DIR else "the default location"
        raise DataError(f"WordNet database not found at {db} ({where}; missing {', '.join(missing[:4])}"
                        f"{' ...' if len(missing) > 4 else ''}): {INSTALL_HINT}")
    root = str(db.resolve())
    if root not in nltk.data.path:  # NLTK only opens files under its data path
        nltk.data.path.append(root)
    lexnames = "".join(f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))

    class Reader(WordNetCorpusReader):
        """NLTK's reader; ``lexnames`` from ``LEXNAMES`` when the database folder has none (Debian's)."""

        def open(self, fileid):
            if fileid == "lexnames" and not (db / "lexnames").is_file():
                return io.StringIO(lexnames)
            return super().open(fileid)

        def map_wn(self, version="wordnet"):
            return None  # the map to NLTK's own 'wordnet' download serves multilingual (OMW) data only

    with warnings.catch_warnings():  # "multilingual functions are not available": no OMW, English only
        warnings.simplefilter("ignore", UserWarning)
        return Reader(root, None)


def wordnet():
    """NLTK's WordNet reader on the installed database (cached); DataError with the install command if absent."""
    return _reader(str(wordnet_dir()))


def wordnet_source() -> str:
    """What the records name: ``"WordNet <version> (<dir>) via NLTK <version>"``; DataError if unavailable."""
    import nltk

    wn = wordnet()
    return f"WordNet {wn.get_version()} ({wordnet_dir()}) via NLTK {nltk.__version__} WordNetCorpusReader"


def wordnet_status() -> str:
    """``"available: <source>"`` or ``"unavailable: <why and the install command>"`` (never raises)."""
    try:
        return f"available: {wordnet_source()}"
    except DataError as e:
        return f"unavailable: {e}"


def lesk_synset(word: str, context: list[str]) -> Any | None:
    """NLTK's ``nltk.wsd.lesk`` for ``word`` against the context words, or None when WordNet has no synset."""
    from nltk.wsd import lesk

    wn = wordnet()
    synsets = wn.synsets(word.replace(" ", "_"))
    if not synsets:
        return None
    return lesk(context, word, synsets=synsets)
