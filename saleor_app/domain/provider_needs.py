"""One policy for client messages (email, SMS, calls): an enabled rule needs a connected provider of its kind.

The named provider (`provider` in the rule's config), or any of the kind for `auto`/none. Checked the same way on
the page, over the API and in a configuration file, where the file's own providers count as connected (they are
checked with a real call before anything is written). The board shows the same test as a badge for rules saved
before a provider went away.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

# Which provider kinds a rule kind sends through; "provider" in its config may name one account.
PROVIDERS_OF_KIND: dict[str, tuple[str, ...]] = {"email": ("postmark", "smtp"), "sms": ("twilio",),
                                                  "call": ("twilio",)}

Connected = Collection[tuple[str, str]]  # (provider kind, account key) of each connected account

_WHAT = {
    "email": ("an email rule", "a connected email provider", "provider", "a Postmark or SMTP provider"),
    "sms": ("an SMS rule", "a connected SMS provider", "Twilio account", "a Twilio account"),
    "call": ("a call rule", "connected telephony", "Twilio account", "a Twilio account"),
}


def has_provider(kind: str, config: Mapping[str, Any], connected: Connected) -> bool:
    """True when the rule kind sends through no provider, or a connected account can send it."""
    kinds = PROVIDERS_OF_KIND.get(kind)
    if kinds is None:
        return True
    wanted = str(config.get("provider") or "auto")
    return any(kind_ in kinds and wanted in ("auto", key) for kind_, key in connected)


def provider_problem(kind: str, enabled: bool, config: Mapping[str, Any], connected: Connected) -> str | None:
    """Why the rule may not be saved enabled, or None."""
    if not enabled or has_provider(kind, config, connected):
        return None
    what, needs, account, connect = _WHAT[kind]
    wanted = str(config.get("provider") or "auto")
    named = "" if wanted == "auto" else f" ({account} {wanted!r} is not connected)"
    return (f"{what} cannot be enabled without {needs}{named}: connect {connect} under Providers first, or save the "
            "rule disabled")
