"""Time zone names a merchant gives (settings, the file, the `date` filter): IANA names only, never a server file.

`ZoneInfo(name)` opens a file under the system's zone directories. Besides the IANA zones those hold `localtime`
(a link to /etc/localtime: the server's own zone) and `posixrules`, which say how the server is set up, so a name
is looked up only when the IANA list shipped in the `tzdata` package has it.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class UnknownTimeZone(ValueError):
    """Not an IANA time zone name; the message says so (and never what the server has)."""


@lru_cache(maxsize=1)
def iana_names() -> frozenset[str]:
    return frozenset(resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())


def iana_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or UnknownTimeZone."""
    if name not in iana_names():
        raise UnknownTimeZone(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # a system whose zone files lack a name the list has
        raise UnknownTimeZone(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
