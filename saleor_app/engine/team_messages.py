"""TeamMessenger over the providers' own sending services: e-mail through EmailService (issue 5), SMS through
TelephonyService (issue 6). Staff messages are recorded, suppressed and retried like customers' messages."""

from __future__ import annotations

from saleor_app.domain.email import AUTO, JOB_HEADER, OutgoingEmail, single_line
from saleor_app.domain.errors import SkipJob
from saleor_app.domain.jobs import JobAttempt
from saleor_app.domain.providers import Channel
from saleor_app.engine.email import EmailService
from saleor_app.engine.telephony import TelephonyService


class ProviderTeamMessenger:
    def __init__(self, emails: EmailService | None, telephony: TelephonyService | None) -> None:
        self._emails = emails
        self._telephony = telephony

    async def email(self, installation_id: int, *, mailbox: str | None, to: str, subject: str, text: str,
                    job: JobAttempt, order_row_id: int) -> str:
        if self._emails is None:
            raise SkipJob("e-mail is not set up in this app (no email provider service)")
        box = await self._emails.choose(installation_id, mailbox or AUTO)
        sent = await self._emails.send(installation_id, box, OutgoingEmail(
            from_address=box.sender.address, from_name=box.sender.display_name, to=to, subject=single_line(subject),
            html="", text=text, headers={JOB_HEADER: str(job.job_id)},
            metadata={"job_id": str(job.job_id)},
        ), job=job, order_row_id=order_row_id)
        return sent.describe(to)

    async def sms(self, installation_id: int, *, to: str, text: str, job: JobAttempt, order_row_id: int) -> str:
        if self._telephony is None:
            raise SkipJob("SMS is not set up in this app (no telephony service)")
        line = await self._telephony.line(installation_id, Channel.SMS)
        sent = await self._telephony.send_sms(installation_id, line, to, text, job=job,
                                              order_row_id=order_row_id)
        return sent.describe("SMS", to)
