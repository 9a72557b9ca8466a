"""The local Hugging Face provider: configuration errors here; generation only with transformers."""

from __future__ import annotations

import importlib.util
import os

import pytest

from bench.errors import ConfigError
from bench.text.providers import make_provider
from bench.text.request import TextRequest

HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None


def test_no_path_is_a_clear_error():
    with pytest.raises(ConfigError, match="give 'path'"):
        make_provider("hf")


def test_path_without_model_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        make_provider("hf", path=str(tmp_path))


@pytest.mark.skipif(HAS_TRANSFORMERS, reason="checks the error shown when transformers is absent")
def test_missing_transformers_names_the_package(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    p = make_provider("hf", path=str(tmp_path), task="text-generation")
    with pytest.raises(ConfigError, match="needs the Python package 'transformers'"):
        p.ask(TextRequest("hello", item="x"))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TRANSFORMERS or not os.environ.get("BENCH_TEST_HF_MODEL"),
                    reason="needs the optional package transformers and a local model directory in "
                           "BENCH_TEST_HF_MODEL (task in BENCH_TEST_HF_TASK, default vlm-chat); neither ships here")
def test_generation_with_a_local_model():
    import numpy as np

    task = os.environ.get("BENCH_TEST_HF_TASK", "vlm-chat")
    p = make_provider("hf", path=os.environ["BENCH_TEST_HF_MODEL"], task=task, max_new_tokens=16)
    images = () if p.task == "text-generation" else (np.full((32, 64, 3), 200, np.uint8),)
    answer = p.ask(TextRequest("Describe the context information", images=images, item="x"))
    assert isinstance(answer, str) and answer.strip()
