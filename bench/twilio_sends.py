"""Twilio client benchmark: SMS sends per second through TwilioApi (the real `twilio` library in its thread
pool) against the local fake of Twilio's API on loopback, for several pool sizes, with p50/p99 per send.

The fake answers at once (optionally after --delay seconds, to stand in for Twilio's ~100-300 ms), so the figure
is the app side's ceiling: library, requests session, threads.

    .venv/bin/python bench/twilio_sends.py [--sends 400] [--delay 0.0] [--threads 1 8 32]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from saleor_app.domain.telephony import Sender, TelephonyCredentials  # noqa: E402
from saleor_app.providers.twilio_api import TwilioApi  # noqa: E402
from tests.fakes.twilio import FakeTwilio  # noqa: E402

SHOP = "+15005550006"


async def run(sends: int, delay: float, threads: int) -> None:
    async with FakeTwilio() as twilio:
        twilio.account.add_number(SHOP)
        twilio.delay = delay
        api = TwilioApi(twilio.base_url, max_concurrency=threads)
        credentials = TelephonyCredentials(twilio.account.sid, twilio.account.auth_token)
        latencies: list[float] = []

        async def one(index: int) -> None:
            started = time.perf_counter()
            await api.send_sms(credentials, to=f"+1415555{index % 10000:04d}", body="Your order shipped",
                               sender=Sender(phone_number=SHOP), status_callback="https://app.example/cb")
            latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(sends)))
        elapsed = time.perf_counter() - began
        api.close()
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(f"threads={threads:3d} delay={delay:.2f}s: {sends / elapsed:7.1f} sends/s, "
              f"p50 {statistics.median(latencies) * 1000:6.1f} ms, p99 {p99 * 1000:6.1f} ms (queueing included)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=400)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    for threads in args.threads:
        asyncio.run(run(args.sends, args.delay, threads))


if __name__ == "__main__":
    main()
