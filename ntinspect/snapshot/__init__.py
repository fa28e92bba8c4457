"""Snapshots: the file format that will carry a capture (docs/snapshot-format.md).

Today this is the container only: :class:`SnapshotWriter` / :func:`write_snapshot` and
:class:`Snapshot` / :func:`open_snapshot`. Capture (what goes in the parts) and replay
as a source (``ntinspect.open()``) build on it.
"""
from .container import (FORMAT, FORMAT_VERSION, MAX_PART_BYTES, Snapshot, SnapshotWriter, open_snapshot,
                        write_snapshot)

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_PART_BYTES", "Snapshot", "SnapshotWriter", "open_snapshot",
           "write_snapshot"]
