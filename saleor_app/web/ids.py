"""The one type of a row id in a path or query: a positive integer that fits every database the app runs on.

PostgreSQL's `integer` (int4) columns end at 2^31−1 and SQLite's integers at 2^63−1; a larger id reached the
driver and came back as a 500. Bounding every id where the request is read answers 422 instead, on both.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

MAX_ROW_ID = 2**31 - 1

RowId = Annotated[int, Ge(1), Le(MAX_ROW_ID)]
"""A row's id in a path (`/jobs/{job_id}/replay`) or a filter (`?job=`)."""

Cursor = Annotated[int, Ge(0), Le(MAX_ROW_ID)]
"""A paging cursor (`?before=`, `?after=`): a row id, or 0 for "from the start" (an empty log's newest id)."""
