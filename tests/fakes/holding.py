"""Answers a fake keeps back: the request is acted on, and its answer waits until released or the fake stops.

A test that needs a client's timeout to fire holds the answer instead of delaying it by some seconds: however slow
the machine, the client gives up first, and the fake's stop lets the held handlers finish at once.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AnswerHold:
    def __init__(self) -> None:
        self._gate: asyncio.Event | None = None

    @property
    def holding(self) -> bool:
        return self._gate is not None

    def hold(self) -> None:
        """From now on, every answer waits (after its request was acted on) until `release()`."""
        if self._gate is None:
            self._gate = asyncio.Event()

    def release(self) -> None:
        """Send the held answers (to clients that may have gone) and answer at once again."""
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    async def wait(self) -> None:
        gate = self._gate
        if gate is not None:
            await gate.wait()

    def around(self, app: ASGIApp) -> ASGIApp:
        """`app`, whose HTTP answers start only once the hold is released."""
        async def held(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return

            async def send_when_released(message: Message) -> None:
                if message["type"] == "http.response.start":
                    await self.wait()
                await send(message)

            await app(scope, receive, send_when_released)

        return held
