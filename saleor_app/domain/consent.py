"""SMS consent keywords: what a reply means for the sender's right to text that number again.

The keywords are the carriers' and Twilio's standard ones (Twilio handles them itself for a number and refuses
later sends with 21610): STOP and friends opt out, START and friends opt back in, HELP asks for help. A reply is
a keyword only when it is the whole message (case and surrounding spaces ignored): "stop by tomorrow" is a reply.
"""

from __future__ import annotations

from enum import StrEnum

OPT_OUT = frozenset({"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})


class Consent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    NONE = "none"


def consent_of(text: str) -> Consent:
    keyword = " ".join(text.split()).upper()
    if keyword in OPT_OUT:
        return Consent.OPT_OUT
    if keyword in OPT_IN:
        return Consent.OPT_IN
    if keyword in HELP:
        return Consent.HELP
    return Consent.NONE


def keyword_of(text: str) -> str:
    """The reply's first word, upper-cased without punctuation: what a trigger's `keyword` param matches."""
    words = text.split()
    return "".join(char for char in words[0] if char.isalnum()).upper() if words else ""
