"""The openai provider against a local OpenAI-compatible server (http.server in a thread)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from bench.errors import ConfigError
from bench.text.answer_cache import CachingProvider
from bench.text.openai_provider import OpenAIProvider
from bench.text.providers import ProviderError, make_provider
from bench.text.request import TextRequest

SECRET = "sk-test-SECRET-9f8e7d6c5b4a"


class Server:
    """Serves a scripted list of (status, body) replies to /v1/chat/completions, recording requests."""

    def __init__(self, script):
        self.script = list(script)
        self.seen: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.seen.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                    "json": json.loads(body)})
                status, reply, *headers = server.script.pop(0) if len(server.script) > 1 else server.script[0]
                if status == "drop":
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers[0] if headers else {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def ok(text="A person plays basketball."):
    return 200, {"choices": [{"message": {"role": "assistant", "content": text}}]}


def provider(url, sleeps, **kw):
    return OpenAIProvider(base_url=url, model="test-vlm", api_key=SECRET, attempts=4, base_delay=0.5,
                          max_delay=8, sleep=sleeps.append, timeout=5, **kw)


REQ = TextRequest("Describe the context information", images=(np.zeros((4, 10, 3), np.uint8),), item="v1.mp4",
                  dataset="d", params={"temperature": 0})


def test_answer_payload_images_and_key_header():
    sleeps = []
    with Server([ok()]) as srv:
        ans = provider(srv.url, sleeps).ask(REQ)
    assert ans == "A person plays basketball." and sleeps == []
    (seen,) = srv.seen
    assert seen["path"] == "/v1/chat/completions" and seen["auth"] == f"Bearer {SECRET}"
    body = seen["json"]
    assert body["model"] == "test-vlm" and body["temperature"] == 0
    parts = body["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": REQ.prompt}
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_retries_with_exponential_backoff_on_429_5xx_and_dropped_connections():
    sleeps = []
    with Server([(429, {"error": "slow down"}), (503, {"error": "busy"}), ("drop", None), ok("fine")]) as srv:
        p = provider(srv.url, sleeps)
        assert p.ask(REQ) == "fine"
    assert p.http_calls == 4 and len(srv.seen) == 4
    assert len(sleeps) == 3
    assert all(b > a for a, b in zip(sleeps, sleeps[1:]))  # exponential growth
    assert 0.5 <= sleeps[0] < 0.6 and 2.0 <= sleeps[2] < 2.3


def test_retry_after_header_is_honoured_up_to_the_cap():
    sleeps = []
    script = [(429, {"error": "x"}, {"Retry-After": "3"}), (429, {"error": "x"}, {"Retry-After": "99"}), ok()]
    with Server(script) as srv:
        provider(srv.url, sleeps).ask(REQ)
    assert sleeps == [3.0, 8.0]  # the server's wait, capped at max_delay


@pytest.mark.parametrize("reply", [b"not json", {"choices": []}, {"choices": [{"message": {"content": ""}}]},
                                   {"unexpected": True}])
def test_malformed_answers_are_retried_then_a_clear_error(reply):
    sleeps = []
    with Server([(200, reply)]) as srv:
        p = provider(srv.url, sleeps)
        with pytest.raises(ProviderError) as e:
            p.ask(REQ)
    assert p.http_calls == 4 and len(sleeps) == 3
    assert "failed after 4 attempts" in str(e.value) and srv.url in str(e.value)


def test_client_error_fails_at_once_without_showing_the_key():
    sleeps = []
    with Server([(401, {"error": f"bad key {SECRET}"})]) as srv:
        p = provider(srv.url, sleeps)
        with pytest.raises(ProviderError) as e:
            p.ask(REQ)
    assert p.http_calls == 1 and sleeps == []
    assert "HTTP 401" in str(e.value) and "BENCH_OPENAI_API_KEY" in str(e.value) and SECRET not in str(e.value)


def test_key_is_never_written_to_cache_or_logs(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("BENCH_OPENAI_API_KEY", SECRET)
    log_file = tmp_path / "run.log"
    handler = logging.FileHandler(log_file)
    logging.getLogger().addHandler(handler)
    try:
        with caplog.at_level(logging.DEBUG), Server([(500, {"e": SECRET}), ok("text")]) as srv:
            monkeypatch.setenv("BENCH_OPENAI_BASE_URL", srv.url)
            monkeypatch.setenv("BENCH_OPENAI_MODEL", "test-vlm")
            inner = make_provider("openai", base_delay=0.01, sleep=lambda s: None)
            cache = CachingProvider(inner, root=tmp_path / "cache")
            assert cache.ask(REQ) == "text"
            assert cache.ask(REQ) == "text"
        assert srv.seen[0]["auth"] == f"Bearer {SECRET}"  # it was used ...
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    written = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] + [log_file]
    assert len(written) == 2
    for p in written:  # ... but is in no file
        assert SECRET.encode() not in p.read_bytes(), p
    assert SECRET not in caplog.text and SECRET not in repr(inner)
    assert SECRET not in json.dumps(cache.provenance.to_dict())


def test_no_configuration_is_a_clear_error():
    with pytest.raises(ConfigError) as e:
        make_provider("openai")
    assert "BENCH_OPENAI_BASE_URL" in str(e.value) and "BENCH_OPENAI_MODEL" in str(e.value)


def test_falls_back_to_openai_variables(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_MODEL", "m")
    p = make_provider("openai")
    assert (p.base_url, p.model) == ("http://127.0.0.1:9/v1", "m")


def test_text_only_request_sends_a_plain_string():
    sleeps = []
    with Server([ok()]) as srv:
        provider(srv.url, sleeps).ask(TextRequest("Here is the action list [a].", item="a"))
    assert srv.seen[0]["json"]["messages"][0]["content"] == "Here is the action list [a]."
