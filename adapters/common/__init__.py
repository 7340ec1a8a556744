"""What every chat platform's adapter needs, written once and used by Slack and Teams alike.

- ``flow``: how an adapter orders what comes in and paces what goes out: events handed to the
  dispatcher in background tasks that are kept (and waited for at shutdown and in tests), one
  conversation's events in the order they came (``Tasks``); at most so many messages per period
  per conversation, on aiolimiter (``Pacer``);
- ``installations``: the ``installations`` row of a workspace (active or not), which decides
  whether scheduled jobs run for it;
- ``periodic``: a job run every so many hours (the directory or roster sync), whose failures are
  one log line and never stop the loop;
- ``paging``: the cursor loop of a paged listing (users, members, history);
- ``retry``: retries with exponential backoff that honour Retry-After (tenacity).

Nothing here imports a platform SDK; what is Slack's or Teams' stays in their packages.
"""
