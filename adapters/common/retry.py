"""Retries with exponential backoff that honour the platform's Retry-After, on tenacity.

``retry_delay`` is the rule: ``base`` seconds, doubling at each attempt, or as long as the
Retry-After header asks (seconds or an HTTP date) when that is longer, never above ``cap``.
``retrying`` builds the tenacity loop around one call: which failures are worth another attempt
(``should_retry``), where a failure's Retry-After is (``retry_after``), and a log line before
each wait; the last failure is raised as it is once the attempts are spent.

Slack's Web API calls are retried by slack_sdk's own retry handlers (connection errors, 429
after Retry-After), inside the client bolt shares; the Bot Connector client of the Teams
adapter retries with this module.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt


def retry_delay(*, attempt: int, base: float, cap: float, retry_after: str | None) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential from ``base``, or what the
    ``Retry-After`` header (seconds or an HTTP date) asks when longer; never above ``cap``."""
    delay = base * (2 ** (attempt - 1))
    if retry_after:
        asked: float | None = None
        try:
            asked = float(retry_after)
        except ValueError:
            try:
                asked = email.utils.parsedate_to_datetime(retry_after).timestamp() - time.time()
            except (TypeError, ValueError):
                asked = None  # a header we cannot read: keep our own backoff
        if asked is not None:
            delay = max(delay, asked)
    return max(0.0, min(delay, cap))


def retrying(
    *,
    attempts: int,
    base: float,
    cap: float,
    should_retry: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], str | None] = lambda exc: None,
    before_wait: Callable[[BaseException, int, float], None] | None = None,
    sleep: Callable[[float], Awaitable[Any]] | None = None,
) -> AsyncRetrying:
    """An ``AsyncRetrying`` for up to ``attempts`` calls: ``async for attempt in retrying(...):
    with attempt: ...``. ``before_wait(failure, next attempt number, seconds)`` is called before
    each wait."""

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome is not None else None
        asked = retry_after(failure) if failure is not None else None
        return retry_delay(attempt=state.attempt_number, base=base, cap=cap, retry_after=asked)

    def announce(state: RetryCallState) -> None:
        if before_wait is not None and state.outcome is not None and state.next_action is not None:
            failure = state.outcome.exception()
            if failure is not None:
                before_wait(failure, state.attempt_number + 1, state.next_action.sleep)

    options: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    return AsyncRetrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait,
        retry=retry_if_exception(should_retry),
        before_sleep=announce,
        reraise=True,
        **options,
    )
