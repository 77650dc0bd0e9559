"""The error tree that decides behaviour: retry, fail with a reason, or skip."""

from __future__ import annotations


class AutomationError(Exception):
    """Base of every error the app raises on purpose; `str()` is a sentence a merchant can act on."""


class RetryableError(AutomationError):
    """Something transient failed (network, 5xx, 429, a lock): try again later."""


class PermanentError(AutomationError):
    """Retrying will not help; the reason is shown to the merchant."""


class Refused(AutomationError):  # noqa: N818 - an answer, like SkipJob
    """A request the app will not carry out (unknown job, wrong secret, a replay that would be cancelled…):
    `status` is the HTTP status that fits, `code` a stable name for it."""

    def __init__(self, status: int, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class OutcomeUnknown(AutomationError):  # noqa: N818 - an answer, like SkipJob
    """The request may have reached the provider (a timeout or a dropped connection after it was handed over):
    whether it happened is not known. The job becomes UNKNOWN and is never re-sent blindly; reconciliation or a
    person decides."""


class RunTakenOver(AutomationError):  # noqa: N818 - an answer, like SkipJob
    """This run no longer owns its job (its lease expired and the job was recovered, or a redelivered message took
    over an interrupted start): it stops before handing anything to a provider and records nothing, so the run that
    owns the job now is the only one that can send."""


class SkipJob(AutomationError):  # noqa: N818 - it is a signal, not an "error"
    """The action does not apply (no recipient, condition false, …): skipped, with a reason."""


class SaleorRefusal(PermanentError):
    """Saleor answered a mutation with validation errors (`errors: [...]` in the payload)."""

    def __init__(self, operation: str, errors: list[SaleorFieldError]) -> None:
        self.operation = operation
        self.errors = errors
        detail = "; ".join(str(error) for error in errors) or "no detail given"
        super().__init__(f"Saleor refused {operation}: {detail}")

    @property
    def codes(self) -> set[str]:
        return {error.code for error in self.errors if error.code}


class SaleorFieldError:
    """One entry of a Saleor mutation's `errors` list."""

    __slots__ = ("code", "field", "message")

    def __init__(self, code: str | None, field: str | None, message: str | None) -> None:
        self.code = code
        self.field = field
        self.message = message

    def __str__(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        return f"{self.message or 'error'} [{self.code or 'UNKNOWN'}]{where}"

    def __repr__(self) -> str:
        return f"SaleorFieldError({self.code!r}, {self.field!r}, {self.message!r})"


class AppAccessLost(PermanentError):
    """Saleor no longer accepts the app's token: the app was deactivated, deleted or lost a permission."""


class SaleorUnavailable(RetryableError):
    """Saleor could not be reached or answered with a server error."""


class SaleorRateLimited(SaleorUnavailable):
    """Saleor answered 429: it asks the app to slow down, for `retry_after` seconds when it said so."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
