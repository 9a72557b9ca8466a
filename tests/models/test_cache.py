"""Frozen-model caches: exact hits, one key change per factor, concurrent fillers, corrupt entries."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from bench.models.cache import (
    CorruptCacheEntry,
    TeacherFeatureCache,
    TextEmbeddingCache,
    cache_info,
    prune,
    read_entry,
    state_dict_hash,
    teacher_cache_from_config,
)

SAMPLING = {"num_frames": 8, "interval": 4, "frame_inds": [0, 4, 8, 12, 16, 20, 24, 28]}
PREPROC = {"resize": 224, "crop": "center", "mean": [0.48, 0.46, 0.41]}


class Encoder:
    """A deterministic text encoder that counts what it encodes."""

    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, texts):
        self.seen.extend(texts)
        rows = [torch.sin(torch.arange(16, dtype=torch.float32) * (1 + sum(map(ord, t)) % 97)) for t in texts]
        return torch.stack(rows) / 3.0


@pytest.fixture
def video(tmp_path):
    p = tmp_path / "a.mp4"
    p.write_bytes(b"fake video bytes " * 10)
    return p


def test_text_embeddings_hit_is_bit_identical_and_encodes_only_misses(tmp_path):
    enc = Encoder()
    cache = TextEmbeddingCache("open_clip:ViT-B-16", "w1", root=tmp_path)
    first = cache.encode(["a video of a person jumping.", "kicking"], enc)
    again = TextEmbeddingCache("open_clip:ViT-B-16", "w1", root=tmp_path).encode(
        ["kicking", "new one", "a video of a person jumping."], enc)
    assert enc.seen == ["a video of a person jumping.", "kicking", "new one"]
    assert torch.equal(again[0], first[1]) and torch.equal(again[2], first[0])
    assert again[0].numpy().tobytes() == first[1].numpy().tobytes()


@pytest.mark.parametrize("change", ["encoder", "weights", "string"])
def test_text_embedding_key_factors(change):
    base = TextEmbeddingCache("enc", "w1")
    other = {"encoder": TextEmbeddingCache("enc2", "w1"), "weights": TextEmbeddingCache("enc", "w2"),
             "string": base}[change]
    assert other.key("jumping" if change != "string" else "jumping.") != base.key("jumping")


def test_teacher_hit_returns_identical_tensors(tmp_path, video):
    calls = []
    cache = TeacherFeatureCache("clip-visual", "w1", root=tmp_path / "c")

    def compute():
        calls.append(1)
        return {"cls": torch.randn(8, 32, dtype=torch.float16), "patch": torch.randn(8, 4, 32)}

    a = cache.get_or_compute(video, compute, SAMPLING, PREPROC)
    b = TeacherFeatureCache("clip-visual", "w1", root=tmp_path / "c").get_or_compute(video, compute, SAMPLING, PREPROC)
    assert len(calls) == 1 and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    single = cache.get_or_compute(video, lambda: torch.ones(3), {"num_frames": 1}, PREPROC)
    assert isinstance(single, torch.Tensor)
    assert torch.equal(cache.get_or_compute(video, lambda: torch.zeros(3), {"num_frames": 1}, PREPROC), single)


@pytest.mark.parametrize("factor", ["model", "weights", "video content", "video mtime", "sampling", "preprocessing"])
def test_teacher_key_factors(tmp_path, video, factor):
    cache = TeacherFeatureCache("clip-visual", "w1", root=tmp_path)
    base = cache.key(video, SAMPLING, PREPROC)
    if factor == "model":
        other = TeacherFeatureCache("clip-visual-L", "w1", root=tmp_path).key(video, SAMPLING, PREPROC)
    elif factor == "weights":
        other = TeacherFeatureCache("clip-visual", "w2", root=tmp_path).key(video, SAMPLING, PREPROC)
    elif factor == "video content":
        content = TeacherFeatureCache("clip-visual", "w1", root=tmp_path, video_identity="content")
        before = content.key(video, SAMPLING, PREPROC)
        st = video.stat()
        video.write_bytes(b"other video bytes" * 10)  # same size
        os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns))  # and same mtime: only the content differs
        base, other = before, content.key(video, SAMPLING, PREPROC)
    elif factor == "video mtime":
        os.utime(video, ns=(0, video.stat().st_mtime_ns + 10**9))
        other = cache.key(video, SAMPLING, PREPROC)
    elif factor == "sampling":
        other = cache.key(video, {**SAMPLING, "frame_inds": [1, 5, 9, 13, 17, 21, 25, 29]}, PREPROC)
    else:
        other = cache.key(video, SAMPLING, {**PREPROC, "crop": "three_crop"})
    assert other != base


def test_weights_hash_of_a_module_changes_with_its_weights():
    net = torch.nn.Linear(3, 2)
    h = state_dict_hash(net)
    with torch.no_grad():
        net.weight[0, 0] += 1e-6
    assert state_dict_hash(net) != h


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "empty"])
def test_corrupt_teacher_entry_is_named_and_recomputed(tmp_path, video, caplog, damage):
    cache = TeacherFeatureCache("clip-visual", "w1", root=tmp_path)
    feats = cache.get_or_compute(video, lambda: torch.arange(64, dtype=torch.float32), SAMPLING, PREPROC)
    key = cache.key(video, SAMPLING, PREPROC)
    path = cache.store.path(key)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) - 40])
    elif damage == "flip_byte":
        path.write_bytes(data[:-4] + bytes([data[-4] ^ 0xFF]) + data[-3:])
    else:
        path.write_bytes(b"")
    with pytest.raises(CorruptCacheEntry, match=str(path)):
        read_entry(path, key)
    calls = []
    with caplog.at_level(logging.WARNING):
        again = cache.get_or_compute(video, lambda: calls.append(1) or torch.arange(64, dtype=torch.float32),
                                     SAMPLING, PREPROC)
    assert calls == [1] and cache.store.corrupt == 1 and str(path) in caplog.text
    assert torch.equal(again, feats)
    read_entry(path, key)


def test_get_many_computes_misses_in_one_batch(tmp_path):
    cache = TeacherFeatureCache("t", "w", root=tmp_path)
    vids = [{"id": f"v{i}"} for i in range(4)]
    samplings = [{"inds": [i]} for i in range(4)]
    batches = []

    def compute(idx):
        batches.append(list(idx))
        return torch.stack([torch.full((2,), float(i)) for i in idx])

    cache.get_many(vids[:2], samplings[:2], PREPROC, compute)
    out = cache.get_many(vids, samplings, PREPROC, compute)
    assert batches == [[0, 1], [2, 3]]
    assert [float(o[0]) for o in out] == [0.0, 1.0, 2.0, 3.0]


def test_opt_in_from_config(tmp_path):
    assert teacher_cache_from_config(False, "m", "w") is None
    c = teacher_cache_from_config({"root": str(tmp_path), "video_identity": "content"}, "m", "w")
    assert c.store.root == tmp_path and c.video_identity == "content"


FILLER = textwrap.dedent("""
    import hashlib, json, sys, time
    import torch
    torch.set_num_threads(1)
    from bench.models.cache import TeacherFeatureCache
    root, order = sys.argv[1], sys.argv[2]
    cache = TeacherFeatureCache("clip-visual", "w1", root=root)
    vids = [f"vid{i:02d}" for i in range(24)]
    if order == "rev":
        vids = vids[::-1]
    def compute(v):
        g = torch.Generator().manual_seed(int(v[3:]))
        time.sleep(0.005)
        return {"feat": torch.randn(64, 256, generator=g)}
    out = {}
    for v in vids:
        f = cache.get_or_compute({"id": v}, lambda v=v: compute(v), {"n": 8}, {"crop": 224})["feat"]
        out[v] = hashlib.sha256(f.numpy().tobytes()).hexdigest()
    print(json.dumps({"digests": out, "hits": cache.store.hits, "misses": cache.store.misses,
                      "corrupt": cache.store.corrupt}))
""")


@pytest.mark.slow
def test_two_processes_fill_one_cache_concurrently(tmp_path):
    root = tmp_path / "teacher"
    procs = [subprocess.Popen([sys.executable, "-c", FILLER, str(root), order], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for order in ("fwd", "rev")]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0]["digests"] == results[1]["digests"]
    assert sum(r["hits"] + r["misses"] for r in results) == 48 and all(r["corrupt"] == 0 for r in results)
    cache = TeacherFeatureCache("clip-visual", "w1", root=root)
    entries = [p for p in root.rglob("*") if p.is_file()]
    assert len(entries) == 24 and not [p for p in entries if p.name.endswith(".tmp")]
    for i in range(24):
        key = cache.key({"id": f"vid{i:02d}"}, {"n": 8}, {"crop": 224})
        read_entry(cache.store.path(key), key)  # whole and verified
    again = cache.get_or_compute({"id": "vid03"}, lambda: pytest.fail("recomputed"), {"n": 8}, {"crop": 224})
    import hashlib

    assert hashlib.sha256(again["feat"].numpy().tobytes()).hexdigest() == results[0]["digests"]["vid03"]


def test_info_and_prune(tmp_path, video):
    TeacherFeatureCache("t", "w", root=tmp_path / "teacher").get_or_compute(video, lambda: torch.ones(4), {}, {})
    TextEmbeddingCache("e", "w", root=tmp_path / "text_embeddings").encode(["a", "b"], Encoder())
    info = {r["kind"]: r for r in cache_info(tmp_path)}
    assert info["teacher"]["files"] == 1 and info["text_embeddings"]["files"] == 2
    assert info["teacher"]["bytes"] > 0
    old = next((tmp_path / "text_embeddings").rglob("*.safetensors"))
    os.utime(old, (time.time() - 10 * 86400,) * 2)
    assert prune(tmp_path, older_than_days=5, dry_run=True)[0] == 1
    assert prune(tmp_path, older_than_days=5)[0] == 1 and not old.exists()
    assert prune(tmp_path, everything=True)[0] == 2
    assert cache_info(tmp_path) == []
