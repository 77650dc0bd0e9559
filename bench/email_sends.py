"""Email transport benchmark: sends per second through the Postmark adapter (the real `postmarker` client in its
bounded thread pool, a fresh connection per send) against the local Postmark fake, and through the SMTP adapter
(the real `aiosmtplib`, one connection per send) against a real aiosmtpd server — both on loopback, p50/p99.

The fakes answer at once, so these are the app side's ceilings (library, threads, connection set-up), not
Postmark's or a mail server's speed.

    .venv/bin/python bench/email_sends.py [--sends 400] [--threads 1 8 32] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from saleor_app.domain.email import OutgoingEmail  # noqa: E402
from saleor_app.providers.postmark import PostmarkProvider  # noqa: E402
from saleor_app.providers.smtp import SmtpProvider  # noqa: E402
from tests.fakes.postmark import FakePostmark  # noqa: E402
from tests.fakes.smtp import FakeSmtp  # noqa: E402


def email(index: int) -> OutgoingEmail:
    return OutgoingEmail(from_address="shop@example.com", from_name="Shop", to=f"customer{index}@example.com",
                         subject=f"Order #{index} received", html="<p>Thanks for your order</p>",
                         text="Thanks for your order", headers={"X-Order-Automation-Job": str(index)})


async def measure(label: str, sends: int, concurrency: int, send: Callable[[int], Awaitable[str]]) -> None:
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with gate:
            started = time.perf_counter()
            await send(index)
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(sends)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[max(int(len(latencies) * 0.99) - 1, 0)]
    print(f"{label}: {sends / elapsed:7.1f} sends/s, p50 {statistics.median(latencies) * 1000:6.1f} ms, "
          f"p99 {p99 * 1000:6.1f} ms")


async def postmark(sends: int, threads: int) -> None:
    async with FakePostmark() as fake:
        server = fake.add_server("Shop", signatures=["shop@example.com"])
        provider = PostmarkProvider(base_url=fake.base_url, timeout=10.0, threads=threads)
        credentials = {"server_token": server.token}
        settings = provider.validate(credentials, {})
        try:
            await measure(f"postmark threads={threads:3d}", sends, threads * 2,
                          lambda i: provider.send(credentials, settings, email(i)))
        finally:
            provider.close()


async def smtp(sends: int, concurrency: int) -> None:
    async with FakeSmtp() as fake:
        provider = SmtpProvider(timeout=10.0, allow_hosts=["127.0.0.1"])
        settings = provider.validate({}, {"host": "127.0.0.1", "port": fake.port, "security": "none",
                                          "from_address": "shop@example.com"})
        await measure(f"smtp concurrency={concurrency:3d}", sends, concurrency,
                      lambda i: provider.send({}, settings, email(i)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=400)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    for threads in args.threads:
        asyncio.run(postmark(args.sends, threads))
    asyncio.run(smtp(args.sends, args.concurrency))


if __name__ == "__main__":
    main()
