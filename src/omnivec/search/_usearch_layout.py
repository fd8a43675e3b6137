"""A usearch HNSW graph as bytes: parsed and bounds-checked with numpy before usearch sees it.

usearch reads a serialized graph without checking it (a neighbour slot past
the last node, a negative level or a short file make it read out of bounds),
so `check_graph` walks the whole layout first.  The layout (usearch 2.x,
``index_dense_gt::save_to_stream`` then ``index_gt::save_to_stream``, with
vectors and 32-bit matrix dimensions), all little-endian:

    u32 rows, u32 bytes per vector         the vector matrix
    rows x bytes per vector                vectors, in slot order
    64 bytes: "usearch", u16 major/minor/patch, u8 metric/scalar/key/slot kinds,
              u64 present, u64 deleted, u64 dimensions, u8 multi, 22 spare bytes
    5 x u64: nodes, connectivity, base connectivity, max level, entry slot
    nodes x i16                            each node's level
    per node: u64 key, i16 level, then for level 0 and each level above it
              u32 count + capacity x u32 neighbour slots (capacity = base
              connectivity at level 0, connectivity above)

Every check raises CorruptFileError naming the part and the byte offset in
the index file.
"""

from __future__ import annotations

import struct

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import CorruptFileError
from .index import REBUILD

MAGIC = b"usearch"
MAJOR = 2
HEAD_BYTES = 64
GRAPH_HEAD = struct.Struct("<5Q")
SCALAR_BYTES = {"f32": (11, 4), "f16": (12, 2), "bf16": (4, 2), "i8": (23, 1)}   # kind code, bytes
METRIC_CODE = {"ip": ord("i"), "l2": ord("e")}
KEY_U64, SLOT_U32 = 14, 15
NODE_HEAD = 10          # u64 key + i16 level
MAX_CONNECTIVITY = 1 << 16
CHUNK = 1 << 16         # nodes per gather: bounds the temporary index arrays


class _Where:
    """Raises CorruptFileError for the graph at file offset `base` of `path`."""

    def __init__(self, path: str, base: int) -> None:
        self.path, self.base = path, base

    def fail(self, part: str, message: str, at: int) -> None:
        raise CorruptFileError(f"the HNSW graph (usearch engine bytes), {part}: {message}{REBUILD}",
                               path=self.path, offset=self.base + int(at))


def check_graph(buf: np.ndarray, *, path: str, base: int, dim: int, dtype: str, space: str,
                connectivity: int, total: int) -> str:
    """Return a summary of what was checked in usearch graph bytes `buf`, or raise CorruptFileError.

    `base` is the file offset of buf[0]; the graph must hold `total` nodes
    whose keys are the ids 0..total-1, `dim` dimensions of `dtype`, the
    metric of `space` and `connectivity` links per node above level 0.
    """
    w = _Where(path, base)
    size = len(buf)
    if size < 8:
        w.fail("matrix header", f"{size} bytes, fewer than the 8 of the matrix header", 0)
    rows, bpv = struct.unpack_from("<II", buf, 0)
    kind, item = SCALAR_BYTES[dtype]
    if rows != total:
        w.fail("matrix header", f"{rows} vectors; the index has {total} ids", 0)
    if bpv != dim * item:
        w.fail("matrix header", f"{bpv} bytes a vector; {dim} {dtype} dimensions need {dim * item}", 4)
    head_at = 8 + rows * bpv
    if head_at + HEAD_BYTES + GRAPH_HEAD.size > size:
        w.fail("vectors", f"{rows} vectors of {bpv} bytes and the headers need {head_at + 104} bytes; "
               f"the engine holds {size}", size)
    _check_head(w, bytes(buf[head_at:head_at + HEAD_BYTES]), head_at, rows=rows, dim=dim, kind=kind,
                metric=METRIC_CODE[space])
    at = head_at + HEAD_BYTES
    nodes, conn, conn_base, max_level, entry = GRAPH_HEAD.unpack_from(buf, at)
    if nodes != rows:
        w.fail("graph header", f"{nodes} nodes but {rows} vectors", at)
    if conn != connectivity:
        w.fail("graph header", f"connectivity {conn}; the index was built with M={connectivity}", at + 8)
    if not conn <= conn_base <= MAX_CONNECTIVITY:
        w.fail("graph header", f"base connectivity {conn_base}; expected {conn}..{MAX_CONNECTIVITY}", at + 16)
    levels_at = at + GRAPH_HEAD.size
    if nodes == 0:
        if levels_at != size:
            w.fail("graph header", f"no nodes, yet {size - levels_at} bytes follow", levels_at)
        return "usearch graph: no nodes"
    if entry >= nodes:
        w.fail("graph header", f"entry slot {entry} is past the {nodes} nodes", at + 32)
    if levels_at + 2 * nodes > size:
        w.fail("levels", f"{nodes} levels need {2 * nodes} bytes; {size - levels_at} remain", size)
    levels = buf[levels_at:levels_at + 2 * nodes].view("<i2").astype(np.int64)
    if levels.min() < 0:
        i = int(np.flatnonzero(levels < 0)[0])
        w.fail("levels", f"node {i} has level {int(levels[i])}", levels_at + 2 * i)
    if levels.max() != max_level:
        w.fail("graph header", f"top level {max_level}, but the highest node level is {int(levels.max())}",
               at + 24)
    if levels[entry] != max_level:
        w.fail("graph header", f"the entry slot {entry} has level {int(levels[entry])}, not the top level "
               f"{max_level}", at + 32)
    nb_base = 4 + 4 * conn_base
    nb = 4 + 4 * conn
    nodes_at = levels_at + 2 * nodes
    need = nodes * (NODE_HEAD + nb_base) + nb * int(levels.sum())   # exact (Python ints): no overflow
    if nodes_at + need != size:
        w.fail("nodes", f"the levels call for {need} bytes of nodes; the engine holds {size - nodes_at}",
               min(size, nodes_at + need))
    lengths = NODE_HEAD + nb_base + nb * levels
    starts = nodes_at + np.cumsum(lengths) - lengths
    _check_heads(w, buf, starts, levels, total)
    links = _check_links(w, buf, starts, levels, conn_base, conn, nodes)
    return (f"usearch graph: {nodes:,} nodes, {max_level + 1} levels, {links:,} links in bounds, "
            f"keys 0..{total - 1} once each")


def _check_head(w: _Where, head: bytes, at: int, *, rows: int, dim: int, kind: int, metric: int) -> None:
    if head[:7] != MAGIC:
        w.fail("header", f"magic {head[:7]!r}, not {MAGIC!r}", at)
    major, minor, patch = struct.unpack_from("<3H", head, 7)
    if major != MAJOR:
        w.fail("header", f"written by usearch {major}.{minor}.{patch}; this omnivec reads usearch "
               f"{MAJOR}.x graphs", at + 7)
    k_metric, k_scalar, k_key, k_slot = head[13:17]
    for name, got, want, off in (("metric kind", k_metric, metric, 13), ("scalar kind", k_scalar, kind, 14),
                                 ("key kind", k_key, KEY_U64, 15), ("slot kind", k_slot, SLOT_U32, 16)):
        if got != want:
            w.fail("header", f"{name} {got}; the index needs {want}", at + off)
    present, deleted, dims = struct.unpack_from("<3Q", head, 17)
    if present != rows or deleted != 0:
        w.fail("header", f"{present} present and {deleted} deleted entries; expected {rows} and 0", at + 17)
    if dims != dim:
        w.fail("header", f"{dims} dimensions; the index has {dim}", at + 33)
    if head[41] != 0:
        w.fail("header", "marked multi-key; omnivec graphs hold one vector a key", at + 41)


def _rows(flat: np.ndarray, first: np.ndarray, width: int) -> np.ndarray:
    """Return flat[first[i]:first[i] + width] for each i as a (len(first) x width) copy."""
    return sliding_window_view(flat, width)[first]


def _check_heads(w: _Where, buf: np.ndarray, starts: np.ndarray, levels: np.ndarray, total: int) -> None:
    """Check each node's key (an id, once) and its level (the level table's)."""
    keys = np.empty(len(starts), np.int64)
    for s in range(0, len(starts), CHUNK):
        head = _rows(buf, starts[s:s + CHUNK], NODE_HEAD)
        k = np.ascontiguousarray(head[:, :8]).view("<u8").reshape(-1)
        lv = np.ascontiguousarray(head[:, 8:]).view("<i2").reshape(-1)
        bad = np.flatnonzero(lv != levels[s:s + CHUNK])
        if len(bad):
            i = s + int(bad[0])
            w.fail(f"node {i}", f"level {int(lv[bad[0]])}, but the level table says {int(levels[i])}",
                   starts[i] + 8)
        bad = np.flatnonzero(k >= total)
        if len(bad):
            i = s + int(bad[0])
            w.fail(f"node {i}", f"key {int(k[bad[0]])} is not an id of the index (0..{total - 1})", starts[i])
        keys[s:s + CHUNK] = k
    seen = np.bincount(keys, minlength=total)
    if (seen != 1).any():
        dup = int(np.flatnonzero(seen > 1)[0])
        i = int(np.flatnonzero(keys == dup)[1])
        w.fail(f"node {i}", f"key {dup} is on more than one node", starts[i])


def _check_links(w: _Where, buf: np.ndarray, starts: np.ndarray, levels: np.ndarray,
                 conn_base: int, conn: int, nodes: int) -> int:
    """Return the number of links after checking every neighbour list.

    A list's count must fit its capacity, its slots must be nodes, and above
    level 0 each neighbour must itself reach that level (usearch reads its
    list there).
    """
    links = 0
    nb_base, nb = 4 + 4 * conn_base, 4 + 4 * conn
    for level in range(int(levels.max()) + 1):
        on = np.flatnonzero(levels >= level) if level else np.arange(len(levels))
        cap = conn_base if level == 0 else conn
        at = starts[on] + NODE_HEAD + (0 if level == 0 else nb_base + nb * (level - 1))
        step = max(256, (1 << 23) // (4 * cap + 4))
        for s in range(0, len(on), step):
            lists = np.ascontiguousarray(_rows(buf, at[s:s + step], 4 * cap + 4)).view("<u4")
            links += _check_lists(w, lists, on[s:s + step], at[s:s + step], cap, level, levels, nodes)
    return links


def _check_lists(w: _Where, lists: np.ndarray, idx: np.ndarray, at: np.ndarray, cap: int, level: int,
                 levels: np.ndarray, nodes: int) -> int:
    """Return the links of the neighbour lists `lists` (count + cap slots each) of nodes `idx` at `level`."""
    count = lists[:, 0]
    if count.max() > cap:
        j = int(np.flatnonzero(count > cap)[0])
        w.fail(f"node {int(idx[j])}, level {level}", f"{int(count[j])} neighbours; room for {cap}", at[j])
    slots = lists[:, 1:]
    if level == 0 and slots.max() < nodes:
        # In a sound graph even the spare slots past a list's count hold nodes (zeros, or
        # neighbours pruned away): one pass over all of them clears the base level.
        return int(count.sum(dtype=np.int64))
    used = np.arange(cap, dtype=np.uint32)[None, :] < count[:, None]
    slots = np.where(used, slots, np.uint32(0))
    if slots.max() >= nodes:
        j = int(np.flatnonzero((slots >= nodes).any(axis=1))[0])
        col = int(np.flatnonzero(slots[j] >= nodes)[0])
        w.fail(f"node {int(idx[j])}, level {level}", f"neighbour slot {int(slots[j, col])} is past "
               f"the {nodes} nodes", at[j] + 4 + 4 * col)
    if level:
        low = used & (levels[slots] < level)
        if low.any():
            j = int(np.flatnonzero(low.any(axis=1))[0])
            col = int(np.flatnonzero(low[j])[0])
            w.fail(f"node {int(idx[j])}, level {level}", f"neighbour {int(slots[j, col])} reaches "
                   f"only level {int(levels[slots[j, col]])}", at[j] + 4 + 4 * col)
    return int(count.sum(dtype=np.int64))
