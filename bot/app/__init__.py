"""The application layer: the composition root (``bootstrap``), the ``liaison`` command
(``cli``) and the processes it runs (``runtime``).

It is the only part of Liaison that knows both the skills and the platform adapters; the rest
of ``bot`` (events, ports, router, dispatch, context, scheduler, store, i18n, …) is the core,
which imports neither, and nothing but this package imports it. The contracts in pyproject.toml
([tool.importlinter]) say so and tests/unit/test_layers.py checks them.
"""
