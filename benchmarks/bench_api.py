"""Throughput and latency of the REST API under load (targets: p99 < 50 ms at 50
concurrent connections, >= 1,000 requests/s on 2 cores).

Run on demand: ``python benchmarks/bench_api.py [--workers N] [--seconds S]``. It loads
the bundled snapshot into a temporary store, starts ``uvicorn`` in a subprocess on
127.0.0.1 (nothing else is contacted), waits until the data is built, warms each
endpoint, then drives it with a local load generator: ``--connections`` keep-alive
HTTP/1.1 connections (asyncio streams; a minimal client so the generator, which shares
the machine, costs as little CPU as possible), each sending its next request as soon as
the previous answer is read. Per endpoint it prints requests/s, p50/p90/p99/max latency
and the ratio to the targets. Bounded: ``--seconds`` per endpoint, then it stops the
server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from realyield.core.settings import load_settings
from realyield.store.engine import open_store
from realyield.universe.build import load_snapshot

ENDPOINTS = ("/v1/indices", "/v1/opportunities")
TARGET_P99_MS = 50.0
TARGET_RPS = 1000.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def connection(
    host: str, port: int, path: str, stop_at: float, latencies: list[float]
) -> int:
    """One keep-alive connection sending GETs back to back; returns non-200 answers."""
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    errors = 0
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
    finally:
        writer.close()
    return errors


async def load(host: str, port: int, path: str, connections: int, seconds: float) -> dict:
    latencies: list[float] = []
    started = time.perf_counter()
    stop_at = started + seconds
    errors = await asyncio.gather(
        *(connection(host, port, path, stop_at, latencies) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": sum(errors),
        "rps": len(latencies) / elapsed,
        "p50": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
    }


def start_server(home: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REALYIELD_HOME": str(home)}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "realyield.api.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return subprocess.Popen(command, env=env, start_new_session=True)


def wait_ready(url: str, server: subprocess.Popen[bytes], timeout_s: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within {timeout_s:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="load per endpoint")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        engine = open_store(load_settings(env={"REALYIELD_HOME": str(home)}))
        load_snapshot(engine)
        engine.dispose()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(home, port, args.workers)
        try:
            ready_s = wait_ready(url, server)
            print(
                f"server: {args.workers} uvicorn worker(s) on {os.cpu_count()} cores, data "
                f"built and ready in {ready_s:.1f} s; load: {args.connections} keep-alive "
                f"connections, {args.seconds:g} s per endpoint (generator on the same machine)"
            )
            ok = True
            for path in ENDPOINTS:
                for _ in range(args.workers * 4):  # every worker builds its cached response
                    httpx.get(url + path, timeout=60)
                asyncio.run(load("127.0.0.1", port, path, args.connections, 1.0))  # warm-up
                r = asyncio.run(load("127.0.0.1", port, path, args.connections, args.seconds))
                meets = r["p99"] < TARGET_P99_MS and r["rps"] >= TARGET_RPS and not r["errors"]
                ok &= meets
                print(
                    f"GET {path:<20} {r['rps']:8,.0f} req/s ({r['rps'] / TARGET_RPS:.2f}x "
                    f"target)  p50 {r['p50']:6.2f} ms  p90 {r['p90']:6.2f} ms  p99 "
                    f"{r['p99']:6.2f} ms ({r['p99'] / TARGET_P99_MS:.2f}x limit)  max "
                    f"{r['max']:6.1f} ms  {r['requests']:,} requests, {r['errors']} errors  "
                    f"{'meets' if meets else 'MISSES'} the targets"
                )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
