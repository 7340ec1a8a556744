"""The loop of a paged listing: ask for a page, read the cursor of the next one, stop when there
is none. Slack calls it ``response_metadata.next_cursor`` (users.list, conversations.members,
conversations.history), the Bot Connector ``continuationToken`` (pagedmembers); the platform
says how to ask for a page and where its cursor is, the loop is the same.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Awaitable, Callable


async def pages(fetch: Callable[[str | None], Awaitable[Any]], next_cursor: Callable[[Any], str | None], *,
                limit: int | None = None) -> AsyncIterator[Any]:
    """Every page, the first one asked for without a cursor; at most ``limit`` pages when given.
    A page without a cursor (or an empty one) is the last."""
    cursor: str | None = None
    count = 0
    while limit is None or count < limit:
        page = await fetch(cursor)
        count += 1
        yield page
        cursor = next_cursor(page) or None
        if cursor is None:
            return


async def collect(fetch: Callable[[str | None], Awaitable[Any]], next_cursor: Callable[[Any], str | None],
                  items: Callable[[Any], Any]) -> list[Any]:
    """The items of every page, in order (``items`` picks them out of one page)."""
    out: list[Any] = []
    async for page in pages(fetch, next_cursor):
        out.extend(items(page))
    return out
