"""The provider fakes count the requests they have received and not answered: what a crash test kills in flight."""

from __future__ import annotations

import asyncio

import httpx

from tests.fakes.postmark import FakePostmark
from tests.fakes.twilio import FakeTwilio
from tests.timing import HTTP_TIMEOUT, eventually


async def test_requests_count_as_in_flight_until_their_answers_start() -> None:
    async with FakeTwilio() as twilio, FakePostmark() as postmark, httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        server = postmark.add_server("Shop", signatures=["shop@example.com"])
        twilio.answers.hold()
        postmark.answers.hold()
        calls = [
            asyncio.create_task(client.get(f"{twilio.base_url}/2010-04-01/Accounts/{twilio.account.sid}.json",
                                           auth=(twilio.account.sid, twilio.account.auth_token))),
            asyncio.create_task(client.post(f"{postmark.base_url}email", headers={"X-Postmark-Server-Token":
                                                                                 server.token},
                                            json={"From": "shop@example.com", "To": "a@example.com",
                                                  "Subject": "Hi", "TextBody": "Hi"})),
        ]
        await eventually(lambda: (twilio.answers.in_flight, postmark.answers.in_flight) == (1, 1),
                         what="both requests received and held")
        assert len(postmark.emails) == 1  # acted on, not answered
        twilio.answers.release()
        postmark.answers.release()
        assert [answer.status_code for answer in await asyncio.gather(*calls)] == [200, 200]
        assert (twilio.answers.in_flight, postmark.answers.in_flight) == (0, 0)
