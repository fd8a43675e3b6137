"""The registered KGE optimisers.

Each is one entry of OPTIMIZERS naming its compiled row update in
`_kernels/optimizers.py` (`entry.kernel`) and its end-of-epoch catch-up of
rows that dense updates skipped (`entry.catch_up`; a no-op for optimisers
that take no step on a zero gradient).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..._lazy import kernels
from ..._registry import Registry

_K = kernels("omnivec.learn.kge._kernels.optimizers")


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimiser: its row update, its catch-up of skipped rows and its epsilon."""

    name: str
    function: str            # its row update in _kernels/optimizers.py
    catch_up_function: str   # its catch-up of rows behind the global step
    eps: float
    description: str
    beta1: float = 0.9
    beta2: float = 0.999

    @property
    def kernel(self) -> Any:
        """The compiled apply(P, G, M, V, step, rows, nrows, lr, beta1, beta2, eps, nblocks, mask, T)."""
        return getattr(_K, self.function)

    @property
    def catch_up(self) -> Any:
        """The compiled catch_up(P, M, V, step, T, lr, beta1, beta2, eps, nblocks, mask)."""
        return getattr(_K, self.catch_up_function)


OPTIMIZERS: Registry[OptimizerSpec] = Registry("KGE optimiser")
for _spec in (OptimizerSpec("sgd", "sgd", "no_catch_up", 1e-10, "plain gradient steps"),
              OptimizerSpec("adagrad", "adagrad", "no_catch_up", 1e-10, "Adagrad (Duchi et al., 2011)"),
              OptimizerSpec("adam", "adam", "catch_up", 1e-8, "Adam (Kingma & Ba, 2015), dense or sparse")):
    OPTIMIZERS.register(_spec.name, _spec)
