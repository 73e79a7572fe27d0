"""The executor adapter's codec: a work item (sdg.work) <-> the bytes of one Ray Data row. Nothing else in sdg
turns work items into bytes.

A row is ``{"clip_id": str, "work": large_binary}``; ``work`` is a small archive of independently encoded fields:

    b"SDGW1" | u32 header length | header JSON {"clip_id", "fields": {name: [offset, length]}} | field payloads

so a stage's adapter decodes only the fields the stage reads and copies the others through as bytes, untouched.
A field payload is a pickle (protocol 5) of the typed value with its array buffers out of band: each buffer is
LZ4-compressed in chunks of at most ``CHUNK`` bytes (kept raw where LZ4 would not shrink it ``MIN_GAIN`` times).
Measured on a 1280x720 40-frame clip of the built-in simulator (ms per buffer, this machine): depth 147 MB 5.6x,
compress 82, decode 36; instance 147 MB 182x, 22 / 33; normals (8-bit since the simulate stage) 111 MB; rgb 111 MB
only 2.1x, 407 / 86, so it stays raw (decode = a 26 ms copy). zlib level 1 does 0.07-0.4 GB/s (the first version's
inter-stage codec took 23 % of all CPU). Decoded arrays are writable; each is a view of a buffer it alone holds.
"""
from __future__ import annotations

import json
import pickle
import struct
from typing import Iterable

import cramjam
import lz4.block
import numpy as np

from sdg.work import WORK_FIELDS, ClipFailed, ClipWork, WorkItem

MAGIC = b"SDGW1"
CHUNK = 1 << 30  # bytes per LZ4 block (the block format's limit is ~2 GB); larger buffers are split
MIN_BUFFER = 1 << 12  # buffers smaller than this stay raw
MIN_GAIN = 3.0  # keep the LZ4 block only when it is at least this much smaller (below, a raw copy decodes faster)
PROBE = 1 << 20  # bytes of a buffer's middle compressed to decide whether the whole is worth compressing
_FAILED = "failed"


class TransportError(ValueError):
    """Bytes that are not an encoded work item."""


# ------------------------------------------------------------------------------------------------- one value
def _worth_compressing(raw: memoryview) -> bool:
    """Whether LZ4 shrinks this buffer by MIN_GAIN, judged on a PROBE-byte sample from its middle (compressing a
    whole incompressible frame stack costs ~4 ms/MB for nothing)."""
    if raw.nbytes <= PROBE:
        return True
    mid = (raw.nbytes - PROBE) // 2
    sample = raw[mid:mid + PROBE]
    return len(lz4.block.compress(sample, store_size=False)) * MIN_GAIN <= PROBE


def encode_value(value) -> bytes:
    """Any picklable value -> bytes; numpy arrays' buffers travel out of band, LZ4-compressed where that pays."""
    buffers: list[pickle.PickleBuffer] = []
    body = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    head = [len(body), len(buffers)]
    parts: list = [body]
    for pb in buffers:
        raw = pb.raw()
        chunks = []
        squeeze = raw.nbytes >= MIN_BUFFER and _worth_compressing(raw)
        for start in range(0, max(raw.nbytes, 1), CHUNK):
            piece = raw[start:start + CHUNK]
            packed = lz4.block.compress(piece, store_size=False) if squeeze else None
            if packed is not None and len(packed) * MIN_GAIN <= piece.nbytes:
                chunks.append((1, piece.nbytes, packed))
            else:
                chunks.append((0, piece.nbytes, piece))
        head.append(len(chunks))
        for kind, n, data in chunks:
            head.extend((kind, n, len(data)))
            parts.append(data)
    h = struct.pack(f"<{len(head)}Q", *head)
    return struct.pack("<I", len(head)) + h + b"".join(parts)


def decode_value(data: bytes | memoryview):
    """Bytes -> the value. Each buffer is decompressed (or copied) straight into a fresh numpy allocation: numpy
    asks the kernel for transparent huge pages, which makes filling a large buffer ~3x cheaper than a bytearray
    (the page faults, not LZ4, were most of the decoding time)."""
    mv = memoryview(data)
    (n_head,) = struct.unpack_from("<I", mv, 0)
    head = struct.unpack_from(f"<{n_head}Q", mv, 4)
    pos = 4 + 8 * n_head
    body_len, n_buffers = head[0], head[1]
    body = mv[pos:pos + body_len]
    pos += body_len
    i = 2
    buffers = []
    for _ in range(n_buffers):
        n_chunks = head[i]
        i += 1
        total = sum(head[i + 3 * k + 1] for k in range(n_chunks))
        out = np.empty(total, np.uint8)
        at = 0
        for _ in range(n_chunks):
            kind, n, stored = head[i:i + 3]
            i += 3
            src = mv[pos:pos + stored]
            pos += stored
            if kind == 1:
                try:
                    got = cramjam.lz4.decompress_block_into(src, out[at:at + n])
                except Exception as e:  # cramjam's DecompressionError
                    raise TransportError(f"a buffer does not decompress (corrupt work item): {e}") from None
                if got != n:
                    raise TransportError("a buffer decompressed to the wrong size (corrupt work item)")
            else:
                out[at:at + n] = np.frombuffer(src, np.uint8)
            at += n
        buffers.append(out)
    return pickle.loads(body, buffers=buffers)


# --------------------------------------------------------------------------------------------- work items
def _archive(clip_id: str, payloads: dict[str, bytes | memoryview]) -> bytes:
    fields, offset = {}, 0
    for name, p in payloads.items():
        n = memoryview(p).nbytes
        fields[name] = [offset, n]
        offset += n
    h = json.dumps({"clip_id": clip_id, "fields": fields}).encode()
    return b"".join([MAGIC, struct.pack("<I", len(h)), h, *payloads.values()])


def _open(blob) -> tuple[dict, memoryview]:
    mv = memoryview(blob)
    if bytes(mv[:len(MAGIC)]) != MAGIC:
        raise TransportError("not an encoded sdg work item (bad magic)")
    (hlen,) = struct.unpack_from("<I", mv, len(MAGIC))
    start = len(MAGIC) + 4
    header = json.loads(bytes(mv[start:start + hlen]))
    return header, mv[start + hlen:]


def _slices(header: dict, payload: memoryview) -> dict[str, memoryview]:
    return {name: payload[o:o + n] for name, (o, n) in header["fields"].items()}


def encode_item(item: WorkItem, fields: Iterable[str] | None = None) -> bytes:
    """A work item (its ``spec`` and ``fields``, default: every filled field) or a failure -> bytes."""
    if isinstance(item, ClipFailed):
        return _archive(item.clip_id, {_FAILED: encode_value(item)})
    names = ["spec", *(f for f in WORK_FIELDS if getattr(item, f) is not None and (fields is None or f in fields))]
    return _archive(item.clip_id, {n: encode_value(getattr(item, n)) for n in names})


def clip_id_of(blob) -> str:
    return _open(blob)[0]["clip_id"]


def decode_item(blob, fields: Iterable[str] | None = None) -> WorkItem:
    """Bytes -> the work item with ``spec`` and ``fields`` decoded (default: all it holds), or its failure."""
    header, payload = _open(blob)
    parts = _slices(header, payload)
    if _FAILED in parts:
        return decode_value(parts[_FAILED])
    want = parts.keys() if fields is None else {"spec", *fields}
    values = {n: decode_value(p) for n, p in parts.items() if n in want}
    missing = [f for f in (fields or ()) if f not in values]
    if missing:
        raise TransportError(f"work item {header['clip_id']} lacks {missing}")
    return ClipWork(**values)


def update_item(blob, item: WorkItem, added: Iterable[str], keep: Iterable[str]) -> bytes:
    """The encoded ``blob`` after a stage: ``added`` fields encoded from ``item``, the other ``keep`` fields copied
    through as they were, everything else dropped. A failure replaces everything."""
    if isinstance(item, ClipFailed):
        return encode_item(item)
    header, payload = _open(blob)
    old = _slices(header, payload)
    added, keep = set(added), set(keep) | {"spec"}
    out: dict[str, bytes | memoryview] = {}
    for name in ("spec", *WORK_FIELDS):
        if name not in keep:
            continue
        if name in added:
            out[name] = encode_value(getattr(item, name))
        elif name in old:
            out[name] = old[name]
    return _archive(item.clip_id, out)
