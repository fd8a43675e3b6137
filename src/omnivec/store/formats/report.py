"""ImportReport: what an import read, kept, skipped and replaced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class ImportReport:
    """What an import read, kept, skipped and replaced (``.lines()`` for people, ``.to_dict()`` for JSON)."""

    format: str
    path: str
    rows: int = 0
    dim: int = 0
    lines_read: int = 0
    bytes_read: int = 0
    header_rows: int | None = None
    duplicates: int = 0
    first_duplicate_line: int | None = None
    first_duplicate_offset: int | None = None
    first_duplicate_key: str | None = None
    nan_rows: int = 0
    nan_policy: str = "error"
    first_nan_line: int | None = None
    first_nan_offset: int | None = None
    replaced_encodings: int = 0
    blank_lines: int = 0
    max_rows_reached: bool = False
    storage: str = "float32"
    dst: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Return human-readable lines: what was imported, then each count of skipped or changed data."""
        rate = f", {self.bytes_read / self.seconds / 1e6:,.0f} MB/s" if self.seconds > 0 and self.bytes_read else ""
        out = [f"imported {self.rows:,} rows x {self.dim} dims from {self.path} ({self.format}) "
               f"in {self.seconds:.2f} s{rate}"]
        if self.duplicates:
            where = _where(self.first_duplicate_line, self.first_duplicate_offset)
            out.append(f"skipped {self.duplicates:,} duplicate key{'s' if self.duplicates > 1 else ''} "
                       f"(kept the first of each); first: {self.first_duplicate_key!r} at {where}")
        if self.nan_rows:
            what = "dropped" if self.nan_policy == "skip" else "set to zero"
            where = _where(self.first_nan_line, self.first_nan_offset)
            out.append(f"{self.nan_rows:,} row{'s' if self.nan_rows > 1 else ''} with NaN/inf {what} "
                       f"(nan={self.nan_policy!r}); first at {where}")
        if self.replaced_encodings:
            out.append(f"replaced invalid UTF-8 in {self.replaced_encodings:,} "
                       f"key{'s' if self.replaced_encodings > 1 else ''} with U+FFFD")
        if self.blank_lines:
            out.append(f"skipped {self.blank_lines:,} blank line{'s' if self.blank_lines > 1 else ''}")
        if self.max_rows_reached:
            out.append(f"stopped after max_rows={self.rows:,} rows")
        out.extend(self.notes)
        if self.dst:
            out.append(f"wrote {self.dst} ({self.storage})")
        return out

    def to_dict(self) -> dict:
        """Return the report as a JSON-able dict."""
        return asdict(self)


def _where(line: int | None, offset: int | None) -> str:
    if line is not None:
        return f"line {line:,}"
    if offset is not None:
        return f"byte {offset:,}"
    return "an unknown position"
