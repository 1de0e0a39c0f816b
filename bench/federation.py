"""The federation under load: 5 nodes of 20,000 datasets, one down, one slow; 20 clients for 60 s.

    python -m bench.federation [--datasets 20000] [--clients 20] [--seconds 60] [--slow-ms 100]
                               [--timeout 5] [--pin] [--cache-seconds 0]

1. Build (or reuse from bench/.cache) five synthetic SQLite catalogues with
   bench.search's generator, seeds 1–5.
2. Serve three with ``pancommons serve``; the fourth behind a proxy that
   holds every request ``--slow-ms`` before passing it on (the slow
   provider); the fifth is a port nobody listens on (the down provider).
3. Start ``pancommons federate`` over the five, with the response cache off
   by default, so every request fans out (the worst case, not the cache).
4. ``--clients`` concurrent clients send a mix of the portal's requests for
   ``--seconds``: title-ordered pages at random depths, text queries,
   filtered counts, technique filters.  Each answer must be 200 with the
   three fast nodes and the slow one named as answered and the down one
   failed or skipped; anything else counts as an error.
5. Report p50/p95 latency and throughput, and the federation's overhead:
   client-observed latency minus the slowest healthy provider's time for
   that request (from the federation's ``Server-Timing`` header), and the
   federation process's peak resident memory (sampled every 0.2 s).

Results: bench/results/federation.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from bench import search as catalogue_bench
from bench.harness import write_result

NODES = 5
ROOT = Path(__file__).resolve().parents[1]
WORDS = ["operando", "quasicrystal", "battery", "lysozyme", "perovskite", "catalyst"]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def catalogues(datasets: int) -> list[str]:
    urls = []
    for seed in range(1, NODES + 1):
        if catalogue_bench.cached_build("sqlite", datasets, seed) is None:
            print(f"building catalogue {seed} ({datasets:,} datasets)", file=sys.stderr, flush=True)
            catalogue_bench.build("sqlite", datasets, seed, "triggers")
        urls.append(catalogue_bench.database_url("sqlite", datasets, seed))
    return urls


def start(arguments: list[str], env: dict | None = None, cpus: set[int] | None = None) -> subprocess.Popen:
    process = subprocess.Popen(arguments, cwd=ROOT, env=dict(os.environ, **(env or {})),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    if cpus:
        os.sched_setaffinity(process.pid, cpus)
    return process


def wait_http(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def serve_node(database_url: str, home: Path, cpus: set[int] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = start([sys.executable, "-m", "pancommons.cli", "serve", "--port", str(port)], {
        "PANCOMMONS_HOME": str(home), "PANCOMMONS_DATABASE_URL": database_url, "PANCOMMONS_PANET_SOURCE": "",
        "PANCOMMONS_CONFIG": str(home / "none.toml"),
    }, cpus)
    return process, f"http://127.0.0.1:{port}/api"


SLOW_PROXY = r"""
import asyncio, sys
delay, listen, target = float(sys.argv[1]) / 1000, int(sys.argv[2]), int(sys.argv[3])

async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()

async def handle(client_reader, client_writer):
    first = await client_reader.read(65536)
    if not first:
        client_writer.close()
        return
    await asyncio.sleep(delay)  # every request (one per connection read) waits before it is passed on
    upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
    upstream_writer.write(first)

    async def client_to_upstream():
        try:
            while data := await client_reader.read(65536):
                await asyncio.sleep(delay)
                upstream_writer.write(data)
                await upstream_writer.drain()
        except ConnectionError:
            pass
        finally:
            upstream_writer.close()

    await asyncio.gather(client_to_upstream(), pipe(upstream_reader, client_writer))

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


def requests_mix(rng: random.Random) -> tuple[str, str, dict]:
    kind = rng.choice(["page", "deep", "text", "count", "technique"])
    if kind == "page":
        return kind, "/Datasets", {"filter": json.dumps({"limit": 20, "skip": 20 * rng.randint(0, 5)})}
    if kind == "deep":
        return kind, "/Datasets", {"filter": json.dumps({"limit": 50, "skip": 50 * rng.randint(6, 20)})}
    if kind == "text":
        return kind, "/Datasets", {"query": rng.choice(WORDS), "filter": json.dumps({"limit": 20})}
    if kind == "count":
        year = rng.randint(2009, 2025)
        return kind, "/Datasets/count", {"where": json.dumps({"creationDate": {"gt": f"{year}-01-01T00:00:00Z"}})}
    name = rng.choice(["x-ray diffraction", "small angle scattering", "neutron spectroscopy", "tomography"])
    return kind, "/Datasets", {"filter": json.dumps({"limit": 20, "include": [
        {"relation": "techniques", "scope": {"where": {"name": {"ilike": f"%{name.split()[0]}%"}}}}]})}


_TIMING = re.compile(r'desc="[^"]* (\w[\w-]*)";dur=([0-9.]+)')
_WHOLE = re.compile(r'^federation;desc="[^"]*";dur=([0-9.]+)')


async def client_loop(number: int, base: str, until: float, expected: dict, samples: list, errors: list) -> None:
    rng = random.Random(number)
    async with httpx.AsyncClient(timeout=30) as client:
        while time.monotonic() < until:
            kind, path, params = requests_mix(rng)
            started = time.perf_counter()
            try:
                response = await client.get(base + path, params=params)
            except httpx.HTTPError as error:
                errors.append(f"{kind}: {type(error).__name__}")
                continue
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                errors.append(f"{kind}: HTTP {response.status_code} {response.text[:200]}")
                continue
            report = json.loads(response.headers["X-Federation-Providers"])
            if sorted(report["answered"]) != expected["answered"] or list(report["timedOut"]):
                errors.append(f"{kind}: providers {report}")
                continue
            timing = response.headers.get("Server-Timing", "")
            answered = [float(ms) for outcome, ms in _TIMING.findall(timing) if outcome == "answered"]
            whole = float(_WHOLE.search(timing).group(1))
            samples.append((kind, seconds, seconds - max(answered) / 1000, (whole - max(answered)) / 1000))


def peak_memory(pid: int, stop: threading.Event, peak: list) -> None:
    while not stop.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    peak[0] = max(peak[0], int(line.split()[1]) / 1024)
        except OSError:
            return
        stop.wait(0.2)


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    if not ordered:
        return {}
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 2),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2), "n": len(ordered)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=20_000, help="datasets per node")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--slow-ms", type=float, default=100, help="delay the slow provider adds to each request")
    parser.add_argument("--timeout", type=float, default=5.0, help="the federation's per-provider timeout")
    parser.add_argument("--cache-seconds", type=float, default=0.0, help="the federation's response cache (0: off)")
    parser.add_argument("--pin", action="store_true",
                        help="federation on the first CPU, nodes and clients on the others (its own overhead, not "
                             "the queue for a shared CPU; as when it runs on its own machine)")
    parser.add_argument("--clients-beside-federation", action="store_true",
                        help="with --pin: the load generator on the federation's CPU rather than the nodes'")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    federation_cpus = {cpus[0]} if args.pin and len(cpus) > 1 else None
    other_cpus = set(cpus[1:]) if federation_cpus else None
    if other_cpus:
        # the load generator: beside the nodes (the federation alone on its CPU), or beside the federation
        # (so the clients' own reading is not queued behind the nodes)
        os.sched_setaffinity(0, federation_cpus if args.clients_beside_federation else other_cpus)

    urls = catalogues(args.datasets)
    home = catalogue_bench.CACHE / "federation-homes"
    processes: list[subprocess.Popen] = []
    try:
        providers = []
        for number, url in enumerate(urls[:4]):
            (home / str(number)).mkdir(parents=True, exist_ok=True)
            process, api = serve_node(url, home / str(number), other_cpus)
            processes.append(process)
            providers.append(api)
        # node 4 (index 3) is the slow one: behind the delaying proxy
        slow_port = free_port()
        target_port = int(providers[3].split(":")[2].split("/")[0])
        processes.append(start([sys.executable, "-c", SLOW_PROXY, str(args.slow_ms), str(slow_port), str(target_port)],
                               cpus=other_cpus))
        providers[3] = f"http://127.0.0.1:{slow_port}/api"
        down = f"http://127.0.0.1:{free_port()}/api"
        providers.append(down)
        for api in providers[:3]:
            wait_http(api + "/Datasets/count")
        wait_http(f"http://127.0.0.1:{target_port}/api/Datasets/count")
        port = free_port()
        command = [sys.executable, "-m", "pancommons.cli", "federate", "--port", str(port), "--timeout", str(args.timeout),
                   "--cache-seconds", str(args.cache_seconds)]
        for api in providers:
            command += ["--provider", api]
        federation = start(command, {"PANCOMMONS_CONFIG": "/nonexistent.toml"}, federation_cpus)
        processes.append(federation)
        base = f"http://127.0.0.1:{port}/api"
        wait_http(base + "/status")
        expected = {"answered": sorted(providers[:4])}

        # warm every node's caches (corpus statistics, page cache) once, untimed
        warm_errors: list = []
        asyncio.run(client_loop(999, base, time.monotonic() + 5, expected, [], warm_errors))
        peak = [0.0]
        stop = threading.Event()
        sampler = threading.Thread(target=peak_memory, args=(federation.pid, stop, peak), daemon=True)
        sampler.start()
        samples: list = []
        errors: list = []

        floor: list[float] = []

        async def floor_loop(until: float) -> None:
            # The HTTP floor under the same load: a request the federation answers without asking anyone
            # (/api/status), from the same client loop. What a federated request costs beyond it and
            # beyond its slowest provider is the federation's own part.
            async with httpx.AsyncClient(timeout=30) as client:
                while time.monotonic() < until:
                    started = time.perf_counter()
                    (await client.get(base + "/status")).raise_for_status()
                    floor.append(time.perf_counter() - started)
                    await asyncio.sleep(0.05)

        async def load():
            until = time.monotonic() + args.seconds
            await asyncio.gather(floor_loop(until),
                                 *(client_loop(n, base, until, expected, samples, errors) for n in range(args.clients)))

        started = time.monotonic()
        asyncio.run(load())
        elapsed = time.monotonic() - started
        stop.set()
        sampler.join()
        status = httpx.get(base + "/status", timeout=10).json()
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)

    by_kind = {}
    for kind in sorted({kind for kind, *_ in samples}):
        by_kind[kind] = {"latency": percentiles([s for k, s, *_ in samples if k == kind]),
                         "overhead_seen_by_client": percentiles([o for k, _, o, _ in samples if k == kind]),
                         "overhead_inside_federation": percentiles([o for k, *_, o in samples if k == kind])}
    figures = {
        "parameters": vars(args),
        "requests": len(samples),
        "errors": len(errors),
        "error_examples": errors[:10],
        "warm_up_errors": len(warm_errors),
        "throughput_per_s": round(len(samples) / elapsed, 1),
        "latency": percentiles([s for _, s, *_ in samples]),
        # client-observed latency (loopback and the load generator's own time included) minus the
        # slowest healthy provider's time, and the same inside the federation (its handler's time)
        "overhead_seen_by_client": percentiles([o for _, _, o, _ in samples]),
        "overhead_inside_federation": percentiles([o for *_, o in samples]),
        "http_floor_status_request": percentiles(floor),
        "by_kind": by_kind,
        "federation_peak_rss_mb": round(peak[0], 1),
        "providers": [{key: p[key] for key in ("url", "state", "answered", "failed", "skipped", "latency")}
                      for p in status["providers"]],
        "code": catalogue_bench.code_state(),
    }
    write_result("federation", figures)


if __name__ == "__main__":
    main()
