"""Importers and exporters for the vector files users have, and content-based format detection.

Formats (the FORMATS registry), one module each holding its reader, writer
and detector: word2vec text, GloVe text and fastText ``.vec`` (text.py),
word2vec binary (w2v_binary.py), fastText ``.bin`` (fasttext_bin.py), numpy
``.npy`` + keys file (npy.py), Parquet (parquet.py) and omnivec model files
(model_file.py); gensim KeyedVectors as in-memory objects only
(gensim_bridge.py: `from_gensim` / `to_gensim`; gensim's own files are
pickles, never loaded).  A new format is one module that calls
`register_format(...)`, imported below.

The shared machinery: sniff.py (compressed input, `detect_format`,
`format_for_path`), rows.py (options, parsed rows, buffers, the keyed-row
writer), transcode.py (key encodings, duplicates), report.py
(`ImportReport`) and api.py (`import_vectors`, `export_vectors`).  Every
problem in the input is a ParseError / FormatError that names the file, the
line and the byte offset; skipped data (duplicate keys, NaN rows, blank
lines) is counted in the ImportReport.
"""

from __future__ import annotations

from .registry import FORMATS, FormatSpec, register_format
from .report import ImportReport
from .rows import (BATCH_LINES, CHUNK, ENCODING_ERRORS, NAN_POLICIES, ON_DUPLICATE, PARALLEL_MIN_LINES,
                   PARALLEL_MIN_THREADS, WRITE_BLOCK, KK, P)
from .sniff import detect_format, format_for_path

# The formats, in the order their names are listed (and their content detectors run).
from . import text, w2v_binary, fasttext_bin, npy, parquet, model_file  # noqa: E402,F401  (they register)

from .api import export_vectors, import_vectors  # noqa: E402
from .fasttext_bin import MAGIC as FASTTEXT_MAGIC  # noqa: E402
from .gensim_bridge import from_gensim, to_gensim  # noqa: E402
from .text import MAX_BINARY_KEY  # noqa: E402

__all__ = ["FORMATS", "FormatSpec", "register_format", "ImportReport", "detect_format", "format_for_path",
           "import_vectors", "export_vectors", "from_gensim", "to_gensim", "NAN_POLICIES", "ON_DUPLICATE",
           "ENCODING_ERRORS", "CHUNK", "BATCH_LINES", "PARALLEL_MIN_LINES", "PARALLEL_MIN_THREADS",
           "WRITE_BLOCK", "MAX_BINARY_KEY", "FASTTEXT_MAGIC", "KK", "P"]
