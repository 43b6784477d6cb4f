#!/usr/bin/env python3
"""Replays a Mooncake trace (JSONL: timestamp ms, input_length, output_length,
hash_ids of 512-token prefix blocks) against an OpenAI-compatible endpoint and
reports time to first token and the prefix-cache hit rate the replicas report.

Each request (HTTP/1.0, so that the answer comes close-delimited, not
re-chunked) is a streamed /v1/completions whose prompt is built from its
hash_ids so that equal hash ids give equal prompt blocks: block `h` is the
word "h" plus h in 7 digits (8 bytes: one token of inference-sim's tokenizer)
followed by 511 full stops (one token each), and the last block is cut to
make input_length tokens in all. max_tokens is output_length. The answers'
final usage event (stream_options.include_usage) carries
usage.prompt_tokens_details.cached_tokens, which inference-sim reports when
its prefix cache is on.

Usage: mooncake.py URL TRACE [--start N] [--count N] [--speed F] [--model M]
Prints one JSON object: requests, errors, ttft_p50_ms, ttft_p95_ms,
prompt_tokens, cached_tokens, hit_rate (cached / prompt tokens).
"""
import argparse
import asyncio
import json
import sys
import time
import urllib.parse

BLOCK = 512


def prompt_of(rec):
    n, ids, parts = rec["input_length"], rec["hash_ids"], []
    for i, h in enumerate(ids):
        take = min(BLOCK, n - i * BLOCK)
        if take <= 0:
            break
        parts.append("h%07d" % (h % 10**7) + "." * (take - 1))
    return "".join(parts)


async def one(host, port, path, model, rec, t_send, out):
    body = json.dumps({
        "model": model, "prompt": prompt_of(rec), "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": max(1, rec["output_length"]),
    }).encode()
    head = ("POST %s HTTP/1.0\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (path, host, port, len(body)))
    res = {"ok": False, "ttft": None, "prompt": 0, "cached": 0}
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(head.encode() + body)
        await writer.drain()
        status = await reader.readline()
        res["status"] = int(status.split()[1]) if status else 0
        async for line in reader:
            if not line.startswith(b"data: {"):
                continue
            if res["ttft"] is None:
                res["ttft"] = time.monotonic() - t_send
            if b'"usage": {' in line or b'"usage":{' in line:
                u = json.loads(line[6:]).get("usage") or {}
                res["prompt"] = u.get("prompt_tokens", 0)
                res["cached"] = (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        writer.close()
        res["ok"] = res.get("status") == 200 and res["ttft"] is not None
    except (OSError, ValueError) as e:
        res["error"] = str(e)
    out.append(res)


async def replay(args):
    u = urllib.parse.urlparse(args.url)
    recs = []
    with open(args.trace) as f:
        for i, line in enumerate(f):
            if i < args.start:
                continue
            if len(recs) >= args.count:
                break
            recs.append(json.loads(line))
    t0_trace = recs[0]["timestamp"]
    out, tasks = [], []
    t0 = time.monotonic()
    for rec in recs:
        due = t0 + (rec["timestamp"] - t0_trace) / 1000.0 / args.speed
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(
            one(u.hostname, u.port, "/v1/completions", args.model, rec, time.monotonic(), out)))
    await asyncio.gather(*tasks)
    ok = [r for r in out if r["ok"]]
    ttfts = sorted(r["ttft"] for r in ok)

    def pct(p):
        if not ttfts:
            return None
        return round(1000 * ttfts[min(len(ttfts) - 1, int(p * len(ttfts)))], 1)

    prompt = sum(r["prompt"] for r in ok)
    cached = sum(r["cached"] for r in ok)
    return {
        "requests": len(out), "errors": len(out) - len(ok),
        "ttft_p50_ms": pct(0.50), "ttft_p95_ms": pct(0.95),
        "ttft_mean_ms": round(1000 * sum(ttfts) / len(ttfts), 1) if ttfts else None,
        "prompt_tokens": prompt, "cached_tokens": cached,
        "hit_rate": round(cached / prompt, 4) if prompt else 0.0,
        "seconds": round(time.monotonic() - t0, 1),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("trace")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--model", default="llama2:7b")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(replay(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
