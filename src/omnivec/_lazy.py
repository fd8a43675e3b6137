"""Compiled-kernel modules loaded on first use, so `import omnivec` does not start numba.

numba's import and its compile cache cost about a third of a second; opening
a model and looking keys up never needs them.  `kernels(name)` returns a
stand-in whose first attribute access imports the module (once, under a lock,
whatever thread gets there first) and which then serves that attribute as a
plain instance attribute.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

_LOCK = threading.Lock()


class _Kernels:
    __slots__ = ("__dict__", "_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module = None

    def __getattr__(self, attr: str) -> Any:
        # Called only for names not yet cached on the instance.
        if attr.startswith("__"):
            raise AttributeError(attr)
        module = self._module
        if module is None:
            with _LOCK:
                if self._module is None:
                    self._module = importlib.import_module(self._name)
                module = self._module
        value = getattr(module, attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<kernels {self._name} ({state})>"


def kernels(name: str) -> Any:
    """Return a stand-in for the module `name` (absolute) that imports it on first attribute access."""
    return _Kernels(name)
