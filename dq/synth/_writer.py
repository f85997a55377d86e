"""Writing one table of a unit chunk by chunk: Parquet (typed or text) or CSV (UTF-8 or GB18030).

Output is reproducible byte for byte: fixed column order and Arrow schema, no generation time in
any file, zstd at a fixed level, one row group per chunk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from dq.io.catalogue import TableSpec

__all__ = ["TableWriter", "to_text"]


def _arrow_type(typ: str, text: bool) -> Any:
    import pyarrow as pa  # imported here: registering `dq synth` in the CLI stays light

    if text:
        return pa.string()
    return {
        "str": pa.string(),
        "int": pa.int64(),
        "decimal": pa.float64(),
        "date": pa.date32(),
        "datetime": pa.timestamp("us"),
    }[typ]


def to_text(df: pl.DataFrame, spec: TableSpec, compact: bool) -> pl.DataFrame:
    """Every column as text, the way HIS exports write it."""
    date_fmt = "%Y%m%d" if compact else "%Y-%m-%d"
    dt_fmt = "%Y%m%d%H%M%S" if compact else "%Y-%m-%d %H:%M:%S"
    exprs = []
    for c in spec.columns:
        e = pl.col(c.name)
        if c.type == "date":
            e = e.dt.strftime(date_fmt)
        elif c.type == "datetime":
            e = e.dt.strftime(dt_fmt)
        elif c.type == "decimal":
            e = e.round(2).cast(pl.String)
        elif c.type == "int":
            e = e.cast(pl.String)
        exprs.append(e.alias(c.name))
    return df.select(exprs)


class TableWriter:
    """Appends chunks of one table to ``<dir>/<table>.parquet`` or ``.csv``."""

    def __init__(self, directory: Path, spec: TableSpec, fmt: str, style: str, encoding: str):
        self.spec = spec
        self.fmt = fmt
        self.text = fmt == "csv" or style == "text"
        self.encoding = encoding
        self.path = directory / f"{spec.name}.{'csv' if fmt == 'csv' else 'parquet'}"
        self.rows = 0
        self._pq: Any = None
        self._fh = None
        if fmt == "csv":
            self._fh = self.path.open("wb")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            fields = [pa.field(c.name, _arrow_type(c.type, self.text)) for c in spec.columns]
            self.schema = pa.schema(fields)
            self._pq = pq.ParquetWriter(
                self.path,
                self.schema,
                compression="zstd",
                compression_level=3,
                use_dictionary=True,
                write_statistics=True,
            )

    def write(self, df: pl.DataFrame) -> None:
        """Write a chunk: typed frame if the style is typed, text frame otherwise."""
        df = df.select([c.name for c in self.spec.columns])
        if self._fh is not None:
            text = df.write_csv(include_header=self.rows == 0)
            self._fh.write(text.encode(self.encoding))
        else:
            assert self._pq is not None
            table = df.to_arrow().cast(self.schema)
            self._pq.write_table(table, row_group_size=max(1, len(df)))
        self.rows += len(df)

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._fh is not None:
            self._fh.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
