"""Answers a fake keeps back: the request is acted on, and its answer waits until released or the fake stops.

A test that needs a client's timeout to fire holds the answer instead of delaying it by some seconds: however slow
the machine, the client gives up first, and the fake's stop lets the held handlers finish at once. A crash test
delays every answer a little instead (`delay`), and reads `in_flight` at the moment it kills the app: the requests
the provider has received and not answered yet, the sends whose outcome the app cannot know.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AnswerHold:
    def __init__(self) -> None:
        self._gate: asyncio.Event | None = None
        self.delay = 0.0  # seconds every answer waits after its request was acted on
        self.in_flight = 0  # requests received and not answered yet

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
        if self.delay:
            await asyncio.sleep(self.delay)
        gate = self._gate
        if gate is not None:
            await gate.wait()

    def around(self, app: ASGIApp) -> ASGIApp:
        """`app`, counted, whose HTTP answers start only once `wait()` is over."""
        return self.counted(app, held=True)

    def counted(self, app: ASGIApp, *, held: bool = False) -> ASGIApp:
        """`app`, with its HTTP requests counted in `in_flight` until their answers start."""
        async def counting(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            answered = False

            async def answer(message: Message) -> None:
                nonlocal answered
                if message["type"] == "http.response.start":
                    if held:
                        await self.wait()
                    if not answered:
                        answered = True
                        self.in_flight -= 1
                await send(message)

            self.in_flight += 1
            try:
                await app(scope, receive, answer)
            finally:
                if not answered:
                    self.in_flight -= 1

        return counting
