"""A small open-loop HTTP/1.1 load client for the benchmarks (asyncio streams, keep-alive connections).

Requests are *scheduled* at a fixed rate (request i at start + i / rate) whether or not earlier ones
finished, and each latency is measured from its scheduled time: a server that falls behind shows as
queueing in the numbers (no coordinated omission). The run sends exactly `count` requests and stops
by itself; a request not answered within `timeout` seconds counts as an error. Loopback only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    rate: float  # requested per second
    sent: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def _run(host: str, port: int, paths: Sequence[str], rate: float, count: int, connections: int, timeout: float) -> LoadResult:
    result = LoadResult(rate, count)
    queue: asyncio.Queue[tuple[float, str] | None] = asyncio.Queue()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (item := await queue.get()) is not None:
                scheduled, path = item
                try:
                    try:
                        status = await asyncio.wait_for(_request(reader, writer, host, path), timeout)
                    except (asyncio.IncompleteReadError, ConnectionError):
                        # The server closed an idle keep-alive connection (uvicorn: after 5 s): reconnect
                        # and send again, as HTTP clients do; the time lost counts in the latency.
                        writer.close()
                        reader, writer = await asyncio.open_connection(host, port)
                        status = await asyncio.wait_for(_request(reader, writer, host, path), timeout)
                    result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    await asyncio.sleep(0.2)  # connections open before the clock starts
    start = time.perf_counter()
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, paths[i % len(paths)]))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.seconds = time.perf_counter() - start
    return result


def run_load(
    port: int,
    paths: Sequence[str],
    rate: float,
    count: int,
    connections: int = 32,
    timeout: float = 5.0,
    host: str = "127.0.0.1",
) -> LoadResult:
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the load client only targets the loopback interface")
    try:
        import uvloop

        return uvloop.run(_run(host, port, paths, rate, count, connections, timeout))
    except ImportError:
        return asyncio.run(_run(host, port, paths, rate, count, connections, timeout))
