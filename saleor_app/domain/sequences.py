"""Number sequences an installation keeps (`{{ sequence.next }}`): their format and where templates use them. Pure.

A number is allocated once per job — a retry or a replay of that job gets the same number back, a preview or a
dry run never takes one — and the store guarantees that no number is handed out twice, also with several
workers at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

SEQUENCE_KEY = r"^[a-z][a-z0-9_-]{0,62}$"
DEFAULT_SEQUENCE = "order-number"  # used (plain numbers from 1) until the merchant defines it
_USES_NEXT = re.compile(r"\bsequence\s*\.\s*next\b|\bsequence\s*\[\s*['\"]next['\"]\s*\]")


class SequenceSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=SEQUENCE_KEY)
    prefix: str = Field(default="", max_length=30, pattern=r"^[^\s{}%]*$")
    padding: int = Field(default=0, ge=0, le=12, description="zero-pad the number to this many digits")
    start: int = Field(default=1, ge=0, le=10**12)


@dataclass(frozen=True, slots=True)
class NumberSequence:
    id: int
    installation_id: int
    key: str
    prefix: str
    padding: int
    next_value: int  # the number the next allocation returns

    def format(self, value: int) -> str:
        return f"{self.prefix}{value:0{self.padding}d}"


def uses_sequence(sources: Iterable[str]) -> bool:
    """Whether any of these templates asks for `sequence.next` (only then is a number allocated)."""
    return any(_USES_NEXT.search(source) for source in sources)
