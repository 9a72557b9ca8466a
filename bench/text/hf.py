"""A local Hugging Face transformers model as a text provider (captioning model or chat VLM).

``transformers`` is an optional dependency: it is imported on first use, and its absence is
reported as a clear error naming the package. Weights come from a local directory only
(``local_files_only=True``): nothing is downloaded at run time.

Tasks:
    ``vlm-chat``: an image-text-to-text model with a chat template (LLaVA, Qwen-VL, ...):
        the prompt and the images go in one user turn; generation is greedy by default.
    ``image-to-text``: a captioning model (BLIP, GIT): one image, the prompt as text prefix.
    ``text-generation``: a text-only causal LM (for vlc/alt's text-only prompts).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from bench.errors import ConfigError
from bench.text.providers import ProviderError, check_answer
from bench.text.request import TextRequest, as_uint8_image

TASKS = ("vlm-chat", "image-to-text", "text-generation")


def require_transformers() -> Any:
    """Import transformers or raise a ConfigError that says how to get it."""
    try:
        return importlib.import_module("transformers")
    except ImportError as e:
        raise ConfigError(
            "the 'hf' text provider needs the Python package 'transformers', which is not installed "
            f"({e}); install it in the project's environment (pip install transformers) or use the "
            "'openai' or 'offline' provider"
        ) from e


class HFProvider:
    """Generates answers with a local transformers model.

    Args:
        path: local directory of the model (``config.json`` + weights).
        task: one of ``TASKS``.
        model: a label for provenance (default: the directory name).
        device: torch device string.
        max_new_tokens: generation length when a request does not say.
    """

    name = "hf"

    def __init__(self, path: str | None = None, task: str = "vlm-chat", model: str | None = None,
                 device: str = "cpu", max_new_tokens: int = 256) -> None:
        if not path:
            raise ConfigError(
                "hf text provider is not configured: give 'path' (a local model directory), e.g. "
                "'text: {providers: {hf: {path: <dir>, task: vlm-chat}}}' in the user config"
            )
        if task not in TASKS:
            raise ConfigError(f"hf text provider task {task!r} is not supported; accepted: {', '.join(TASKS)}")
        self.path = Path(path).expanduser()
        if not (self.path / "config.json").exists():
            raise ConfigError(f"hf text provider path {self.path} has no config.json; expected a local model directory")
        self.task = task
        self.model = model or self.path.name
        self.device = device
        self.max_new_tokens = int(max_new_tokens)
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            tf = require_transformers()
            kw = {"local_files_only": True}
            if self.task == "text-generation":
                proc = tf.AutoTokenizer.from_pretrained(self.path, **kw)
                net = tf.AutoModelForCausalLM.from_pretrained(self.path, **kw)
            else:
                proc = tf.AutoProcessor.from_pretrained(self.path, **kw)
                cls = getattr(tf, "AutoModelForImageTextToText", None) or tf.AutoModelForVision2Seq
                net = cls.from_pretrained(self.path, **kw)
            self._loaded = (proc, net.to(self.device).eval())
        return self._loaded

    def ask(self, request: TextRequest) -> str:
        import torch
        from PIL import Image

        proc, net = self._load()
        images = [Image.fromarray(as_uint8_image(im)) for im in request.images]
        gen = {"max_new_tokens": int(request.params.get("max_tokens", self.max_new_tokens)), "do_sample": False}
        if self.task == "image-to-text" and len(images) != 1:
            raise ProviderError(f"hf image-to-text model {self.model} takes exactly one image, got {len(images)} "
                                f"for {request.describe()}")
        if self.task == "text-generation":
            inputs = proc(request.prompt, return_tensors="pt")
        elif self.task == "image-to-text":
            inputs = proc(images=images[0], text=request.prompt, return_tensors="pt")
        else:
            content = [{"type": "image"} for _ in images] + [{"type": "text", "text": request.prompt}]
            text = proc.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)
            inputs = proc(images=images or None, text=text, return_tensors="pt")
        inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        with torch.no_grad():
            out = net.generate(**inputs, **gen)
        n_in = inputs["input_ids"].shape[1] if self.task != "image-to-text" else 0
        decode = proc.decode if hasattr(proc, "decode") else proc.tokenizer.decode
        return check_answer(decode(out[0][n_in:], skip_special_tokens=True).strip(), self.name, request)
