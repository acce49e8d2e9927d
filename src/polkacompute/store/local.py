"""A local content store: blobs on disk named by their CID, verified on every read.

Used by requesters (to publish programs and inputs), workers (to cache what they fetched and keep
the outputs they serve) and `job run --local`. Writes are atomic (temp file + rename), so a crash
never leaves a partial blob under a valid name.
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from pathlib import Path

from polkacompute.errors import ContentError
from polkacompute.store.cid import cid_of, digest_of, verify

_writes = itertools.count()
MEMORY_BYTES = 64 * 1024 * 1024  # verified blobs kept in memory (content never changes under a CID)


class ContentStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._memory_size = 0

    def _path(self, cid: str) -> Path:
        digest_of(cid)  # validates the CID before it becomes a file name
        return self.directory / "blobs" / cid[-2:] / cid

    def put(self, data: bytes, codec: str = "raw") -> str:
        """Stores `data` and returns its CID (storing the same bytes twice is a no-op)."""
        cid = cid_of(data, codec)
        path = self.directory / "blobs" / cid[-2:] / cid  # a CID we just made needs no validation
        if path.exists():
            return cid
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a reader never sees half a blob. A unique name per process and
        # write (mkstemp's random names cost more than the write of a small blob).
        tmp = path.with_name(f"{cid}.{os.getpid()}.{next(_writes)}.tmp")
        try:
            with open(tmp, "xb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return cid

    def has(self, cid: str) -> bool:
        return self._path(cid).exists()

    def get(self, cid: str) -> bytes:
        """The bytes of `cid`, checked against it (a corrupted blob is reported, never returned).

        Recently read blobs are served from memory, already verified (a worker runs the same program
        many times); a blob corrupted on disk after it was read is caught on its next read from disk.
        """
        if (cached := self._memory.get(cid)) is not None:
            self._memory.move_to_end(cid)
            return cached
        try:
            data = verify(cid, self._path(cid).read_bytes())
        except FileNotFoundError:
            raise ContentError(f"{cid} is not in the store at {self.directory}") from None
        if len(data) <= MEMORY_BYTES // 8:
            self._memory[cid] = data
            self._memory_size += len(data)
            while self._memory_size > MEMORY_BYTES:
                _, old = self._memory.popitem(last=False)
                self._memory_size -= len(old)
        return data

    def size(self, cid: str) -> int:
        try:
            return self._path(cid).stat().st_size
        except FileNotFoundError:
            raise ContentError(f"{cid} is not in the store at {self.directory}") from None
