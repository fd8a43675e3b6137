"""omnivec model files as a vector format: import reads a table, export saves one.

Detected by the safetensors layout: an 8-byte header length followed by a
JSON object that fits in the file.
"""

from __future__ import annotations

import os
import struct

from .registry import register_format
from .report import ImportReport
from .rows import _Options


def _is_model(probe) -> bool:
    head = probe.head
    if len(head) >= 9 and head[8:9] == b"{":
        (hlen,) = struct.unpack("<Q", head[:8])
        return hlen + 8 <= probe.size
    return False


def _read_model(path: str, fmt: str, o: _Options, report: ImportReport):
    from ..model import open_table

    emb = open_table(path)
    report.rows, report.dim = len(emb), emb.dim
    report.bytes_read = os.path.getsize(path)
    return emb


def _write_model(emb, path: str, fmt: str, *, progress=None, keys_file=None) -> None:
    emb.save(path)


register_format("omnivec", "omnivec model file (safetensors)", read=_read_model, write=_write_model,
                detect=_is_model, magic=True, extensions=(".ov", ".omv", ".omnivec", ".safetensors"),
                suffixes=(".ov", ".omv", ".omnivec", ".safetensors"), aliases=("model", "safetensors"))
