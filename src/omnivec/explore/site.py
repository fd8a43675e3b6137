"""The static site of a map: index.html, the viewer's script and style, binary point data.

    DIR/index.html  omnivec-map.js  omnivec-map.css       (copied from the package)
    DIR/data/manifest.json     what the files hold (sizes, offsets, legends, facts)
    DIR/data/points.bin        Float32 x, y per point (unit square)
    DIR/data/colors-<i>.bin    Uint8 colour code per point, one file per scheme
    DIR/data/keys.json         keys as a JSON array of strings
    DIR/data/tiles.bin         Int32 per level: tile ids, then (tiles x m) representative points
    DIR/data/contours.bin      Float32 segments x0 y0 x1 y1
    DIR/data/nbr-<s>.bin       Int32 (rows x k) neighbour ids, then Float32 (rows x k) scores

Browsers refuse `fetch` on file:// pages, so every data file also has a
`<file>.js` copy (base64 for binary, the JSON itself for JSON) that the page
loads with a <script> tag when opened from disk.  No data is ever written
into the HTML: keys reach the page only as JSON strings, and the viewer puts
them on screen as text.

The folder is written beside its final place and renamed into it, so an
interrupted build never leaves a half-written map under the real name.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from .._atomic import file_mode, remove_stale, temp_name
from ..errors import InputError

FORMAT = "omnivec-map"
VERSION = 1
SHARD_ROWS = 65536
STATIC_FILES = ("index.html", "omnivec-map.js", "omnivec-map.css")


def _json(obj) -> str:
    # ASCII-only JSON: safe inside a JS file whatever the keys hold (U+2028, lone surrogates).
    return json.dumps(obj, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


class _Writer:
    def __init__(self, folder: Path, file_copies: bool) -> None:
        self.folder = folder
        self.file_copies = file_copies
        self.sizes: dict[str, int] = {}

    def binary(self, name: str, *arrays: np.ndarray) -> None:
        data = b"".join(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
                        for a in arrays)
        (self.folder / name).write_bytes(data)
        self.sizes[name] = len(data)
        if self.file_copies:
            b64 = base64.b64encode(data).decode("ascii")
            (self.folder / f"{name}.js").write_text(f'omnivecData({_json(name)},"{b64}",true);\n', "ascii")

    def json(self, name: str, obj) -> None:
        text = _json(obj)
        (self.folder / name).write_text(text, "ascii")
        self.sizes[name] = len(text)
        if self.file_copies:
            (self.folder / f"{name}.js").write_text(f"omnivecData({_json(name)},{text},false);\n", "ascii")


def _check_target(folder: Path) -> None:
    if folder.exists():
        if not folder.is_dir():
            raise InputError(f"{folder} exists and is not a folder; choose another output folder")
        if any(folder.iterdir()) and not (folder / "data" / "manifest.json").is_file():
            raise InputError(f"{folder} is a folder with other files in it, not an omnivec map; "
                             f"choose an empty or new output folder")


def write_site(m, folder: str | os.PathLike, *, file_copies: bool = True) -> Path:
    """Return the folder after writing map `m` into it as a static site (replacing an older map there)."""
    folder = Path(folder)
    _check_target(folder)
    parent = folder.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale(parent)
    tmp = Path(tempfile.mkdtemp(prefix=temp_name(folder), suffix=".tmp", dir=parent))
    try:
        _write(m, tmp, file_copies)
        os.chmod(tmp, file_mode(folder, folder=True))
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=temp_name(folder, ".old"), suffix=".tmp", dir=parent))
            os.rmdir(old)
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _write(m, root: Path, file_copies: bool) -> None:
    static = resources.files("omnivec.explore") / "static"
    for name in STATIC_FILES:
        (root / name).write_bytes((static / name).read_bytes())
    data = root / "data"
    data.mkdir()
    w = _Writer(data, file_copies)
    n = len(m)
    w.binary("points.bin", m.xy.astype(np.float32))
    schemes = []
    for i, s in enumerate(m.schemes):
        w.binary(f"colors-{i}.bin", s.codes.astype(np.uint8))
        schemes.append({"name": s.name, "kind": s.kind, "file": f"colors-{i}.bin", "colors": s.colors,
                        "labels": s.labels, "counts": s.counts})
    w.json("keys.json", m.keys)
    # Tiles: per level the tile ids then the representatives, all int32.
    parts, levels, off = [], [], 0
    per_tile = m.levels[0].reps.shape[1] if m.levels else 0
    for lv in m.levels:
        parts += [lv.tiles.astype(np.int32), lv.reps.astype(np.int32).ravel()]
        levels.append({"z": lv.z, "tiles": int(len(lv.tiles)), "offset": off})
        off += len(lv.tiles) * (1 + per_tile)
    w.binary("tiles.bin", *parts) if parts else w.binary("tiles.bin", np.zeros(0, np.int32))
    cparts, contours, off = [], [], 0
    for c in m.contours:
        seg = np.asarray(c["segments"], np.float32)
        cparts.append(seg.ravel())
        contours.append({"fraction": c["fraction"], "segments": int(len(seg)), "offset": off})
        off += len(seg)
    w.binary("contours.bin", *(cparts or [np.zeros(0, np.float32)]))
    k = m.neighbors.shape[1]
    shards = 0
    computed = int(m.info.get("neighbors", {}).get("computed", 0))
    if computed:
        for s in range(0, n, SHARD_ROWS):
            e = min(n, s + SHARD_ROWS)
            w.binary(f"nbr-{shards}.bin", m.neighbors[s:e].astype(np.int32),
                     np.nan_to_num(m.neighbor_scores[s:e], nan=0.0).astype(np.float32))
            shards += 1
    manifest = {
        "format": FORMAT, "version": VERSION, "name": m.name, "metric": m.metric, "dim": m.dim,
        "points": n, "key_kind": m.key_kind, "file_copies": file_copies,
        "levels": levels, "per_tile": per_tile, "schemes": schemes, "contours": contours,
        "neighbors": {"k": k, "shard_rows": SHARD_ROWS, "shards": shards, "computed": computed,
                      "engine": m.info.get("neighbors", {}).get("engine", "none")},
        "info": _plain(m.info), "sizes": w.sizes,
    }
    w.json("manifest.json", manifest)


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return round(obj, 4) if np.isfinite(obj) else None
    return obj


def read_manifest(folder: str | os.PathLike) -> dict:
    """Return the manifest of a map folder written by `write_site`."""
    from ..errors import FormatError

    path = Path(folder) / "data" / "manifest.json"
    try:
        man = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise FormatError("not an omnivec map folder (no data/manifest.json)", path=path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"manifest is not valid JSON: {exc}", path=path) from None
    if man.get("format") != FORMAT:
        raise FormatError(f"expected format {FORMAT!r}, found {man.get('format')!r}", path=path)
    return man
