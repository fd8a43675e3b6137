"""The registered KGE losses and regularisers.

Each is one entry of LOSSES or REGULARIZERS naming its compiled function in
`_kernels/losses.py` (`entry.kernel`, loaded on first use); the training loop
is compiled with it (see `ModelSpec.train_loop`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..._lazy import kernels
from ..._registry import Registry

_K = kernels("omnivec.learn.kge._kernels.losses")


@dataclass(frozen=True)
class LossSpec:
    """One loss over a positive triple's score and its negatives' scores."""

    name: str
    function: str      # its kernel in _kernels/losses.py
    description: str

    @property
    def kernel(self) -> Any:
        """The compiled (acc, spos, sneg, cneg, bsz, margin, adv_temp) -> (acc, cpos)."""
        return getattr(_K, self.function)


@dataclass(frozen=True)
class RegularizerSpec:
    """One penalty on the entity (and real-valued relation) rows a batch touches."""

    name: str
    function: str | None   # its kernel in _kernels/losses.py; None: no penalty
    description: str

    @property
    def kernel(self) -> Any:
        """The compiled (x, g, w) -> penalty, or None for no penalty."""
        return None if self.function is None else getattr(_K, self.function)


LOSSES: Registry[LossSpec] = Registry("KGE loss")
for _spec in (LossSpec("margin", "margin", "pairwise hinge max(0, margin - s_pos + s_neg)"),
              LossSpec("softplus", "softplus_loss", "pointwise logistic loss on positives and negatives"),
              LossSpec("nssa", "nssa", "self-adversarial negative sampling (Sun et al., 2019)")):
    LOSSES.register(_spec.name, _spec)

REGULARIZERS: Registry[RegularizerSpec] = Registry("KGE regulariser")
for _reg in (RegularizerSpec("none", None, "no penalty"),
             RegularizerSpec("l2", "l2", "squared L2 norm"),
             RegularizerSpec("n3", "n3", "weighted nuclear 3-norm (Lacroix et al., 2018)")):
    REGULARIZERS.register(_reg.name, _reg)


def get_regularizer(name: str | None) -> RegularizerSpec:
    """Return the regulariser registered under `name` (None: "none")."""
    return REGULARIZERS.get("none" if name is None else name)
