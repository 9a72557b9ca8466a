"""``bench text``: build the text knowledge a method needs; list providers, needs and prompts."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench.errors import ConfigError


def _kv(pairs: list[str] | None, flag: str) -> dict[str, Any]:
    """``key=value`` pairs, values parsed as JSON when they are JSON (``limit=4``, ``prompts=["A"]``)."""
    out: dict[str, Any] = {}
    for p in pairs or []:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {p!r} must look like key=value")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _build(args: argparse.Namespace) -> int:
    from bench.text.build import build

    if not args.method and not args.need:
        raise ConfigError("bench text build needs --method or --need")
    popts = _kv(args.provider_option, "--provider-option")
    if args.answers:
        popts["files"] = args.answers
    if args.model:
        popts["model"] = args.model
    results = build(args.method, args.dataset, args.provider, need=args.need, need_options=_kv(args.option, "--option"),
                    provider_options=popts, cache=not args.no_cache, progress=not args.no_progress)
    for r in results:
        print(r.summary())
    return 0


def _list(args: argparse.Namespace) -> int:
    from bench.text.needs import DEFAULT_METHOD_NEEDS, METHOD_NEEDS, TEXT_NEEDS
    from bench.text.providers import PROVIDERS
    from bench.text.templates import ensemble, ensemble_names, prompt_names, prompts

    print("providers:", ", ".join(PROVIDERS.names()))
    print("needs:")
    for name, need in TEXT_NEEDS.items():
        print(f"  {name}: {need.description}; options {json.dumps(need.defaults)}")
    methods = {**DEFAULT_METHOD_NEEDS, **dict(METHOD_NEEDS.items())}
    print("methods:", ", ".join(f"{m} -> {'+'.join(n for n, _ in v)}" for m, v in sorted(methods.items())))
    print("prompts:")
    for name in prompt_names():
        for tid, t in prompts(name).templates.items():
            print(f"  {name}/{tid}: {t.text}")
    print("ensembles:", ", ".join(f"{n} ({len(ensemble(n))})" for n in ensemble_names()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("text", help="LLM/VLM text knowledge: build, list")
    tsub = p.add_subparsers(dest="text_command", metavar="TEXT_COMMAND")
    b = tsub.add_parser("build", help="produce and cache the text a method needs for a dataset")
    b.add_argument("--method", help="method whose text needs to build (vlc, alt, bike, ftp, ...)")
    b.add_argument("--need", help="build only this need (see 'bench text list')")
    b.add_argument("--dataset", required=True, help="registered dataset name")
    b.add_argument("--provider", default="offline", help="text provider (offline, openai, hf); answers are cached")
    b.add_argument("--model", help="model name for the provider (openai: overrides BENCH_OPENAI_MODEL)")
    b.add_argument("--answers", nargs="+", help="offline provider: answer files or directories (.json/.jsonl)")
    b.add_argument("--provider-option", action="append", metavar="KEY=VALUE", help="provider option (repeatable)")
    b.add_argument("--option", action="append", metavar="KEY=VALUE", help="need option, e.g. limit=10 (repeatable)")
    b.add_argument("--no-cache", action="store_true", help="do not read or write the answer cache")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.set_defaults(func=_build)
    lst = tsub.add_parser("list", help="providers, needs, methods' needs, prompts and ensembles")
    lst.set_defaults(func=_list)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
