"""Per-triple loss terms and regularisers.

A loss is loss(acc, spos, sneg, cneg, bsz, margin, adv_temp) -> (acc, cpos): it
adds the triple's loss (normalised over the batch of bsz positives) to acc and
writes the loss's gradient with respect to each negative's score into cneg;
cpos is the one with respect to the positive's score.  A regulariser is
reg(x, g, w) -> w * penalty(x), adding the penalty's gradient to g.
"""

from __future__ import annotations

import math

from numba import njit

from .common import FAST, sigmoid, softplus


@njit(**FAST)
def margin(acc, spos, sneg, cneg, bsz, margin, adv_temp):
    """Pairwise hinge: mean over negatives of max(0, margin - s_pos + s_neg)."""
    num_neg = sneg.shape[0]
    norm = 1.0 / (bsz * num_neg)
    cpos = 0.0
    for j in range(num_neg):
        z = margin - spos + sneg[j]
        if z > 0:
            acc += z * norm
            cpos -= norm
            cneg[j] = norm
        else:
            cneg[j] = 0.0
    return acc, cpos


@njit(**FAST)
def softplus_loss(acc, spos, sneg, cneg, bsz, margin, adv_temp):
    """Pointwise logistic: softplus(-s_pos) + sum of softplus(s_neg), over 1 + negatives."""
    num_neg = sneg.shape[0]
    norm = 1.0 / (bsz * (1 + num_neg))
    acc += softplus(-spos) * norm
    cpos = -sigmoid(-spos) * norm
    for j in range(num_neg):
        acc += softplus(sneg[j]) * norm
        cneg[j] = sigmoid(sneg[j]) * norm
    return acc, cpos


@njit(**FAST)
def nssa(acc, spos, sneg, cneg, bsz, margin, adv_temp):
    """Self-adversarial negative sampling (RotatE): negatives weighted by softmax(adv_temp * s_neg)."""
    num_neg = sneg.shape[0]
    norm = 0.5 / bsz
    mx = -1e30
    for j in range(num_neg):
        if sneg[j] * adv_temp > mx:
            mx = sneg[j] * adv_temp
    tot = 0.0
    for j in range(num_neg):
        cneg[j] = math.exp(sneg[j] * adv_temp - mx)
        tot += cneg[j]
    acc += softplus(-(margin + spos)) * norm
    cpos = -sigmoid(-(margin + spos)) * norm
    for j in range(num_neg):
        w = cneg[j] / tot
        acc += w * softplus(sneg[j] + margin) * norm
        cneg[j] = w * sigmoid(sneg[j] + margin) * norm
    return acc, cpos


@njit(**FAST)
def l2(x, g, w):
    """w * sum(x^2)."""
    loss = 0.0
    for k in range(x.shape[0]):
        loss += x[k] * x[k]
        g[k] += 2.0 * w * x[k]
    return w * loss


@njit(**FAST)
def n3(x, g, w):
    """w * sum(|x|^3) (Lacroix et al., 2018)."""
    loss = 0.0
    for k in range(x.shape[0]):
        a = abs(x[k])
        loss += a * a * a
        g[k] += 3.0 * w * x[k] * a
    return w * loss


@njit(**FAST)
def no_regularizer(x, g, w):
    """No penalty (never called: the loop skips regularisation)."""
    return 0.0
