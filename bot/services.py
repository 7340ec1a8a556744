"""Shared services (the NLP pipelines, the expertise index, …), built once, on first use.

Skills declare them in ``services(app) -> {name: factory}``; handlers get them with
``ctx.service(name)``. Building lazily keeps start-up fast and loads no model at import time.
"""

from __future__ import annotations

import threading
from typing import Any, Callable


class Services:
    def __init__(self) -> None:
        self._factories: dict[str, Callable[[], Any]] = {}
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    def register(self, name: str, factory: Callable[[], Any]) -> None:
        if name in self._factories:
            raise ValueError(f"service {name!r} is registered twice")
        self._factories[name] = factory

    def provide(self, name: str, value: Any) -> None:
        """Put a ready-made service (tests, or a value built elsewhere)."""
        with self._lock:
            self._factories.setdefault(name, lambda: value)
            self._built[name] = value

    def get(self, name: str) -> Any:
        with self._lock:
            if name not in self._built:
                try:
                    factory = self._factories[name]
                except KeyError:
                    raise LookupError(f"no service {name!r}; is the skill that provides it enabled?") from None
                self._built[name] = factory()
            return self._built[name]

    def built(self, name: str) -> bool:
        return name in self._built

    def names(self, prefix: str = "") -> list[str]:
        """The registered services whose name starts with ``prefix``, in registration order."""
        return [n for n in self._factories if n.startswith(prefix)]

    def __contains__(self, name: str) -> bool:
        return name in self._factories
