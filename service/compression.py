"""Pure ASGI gzip compression of responses, negotiated with ``Accept-Encoding``.

Starlette's ``GZipMiddleware`` is pure ASGI too, but it falls short of the
service's rules: it compresses whenever the text ``gzip`` appears anywhere in
``Accept-Encoding`` (so ``gzip;q=0``, an explicit refusal, still gets gzip, and
``*`` never does), and it sends ``Vary: Accept-Encoding`` only on bodies above
its minimum size. This one parses the header per RFC 9110 12.5.3 and marks
every response of a compressible type with ``Vary``, whatever its size, so a
shared cache never serves gzip to a client that refused it.

What is never compressed: bodies under :data:`MINIMUM_SIZE`, responses that
already have a ``Content-Encoding``, partial content and bodiless statuses,
``Cache-Control: no-transform``, and media types that are compressed already
(images, audio, video, archives). Streamed bodies are compressed chunk by chunk
with a sync flush, so each chunk still reaches the client as soon as it is sent.
Brotli is not offered: see docs/performance.md for the measurement.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable

import anyio.to_thread
from starlette.types import Message, Send

# Below about 1 KiB gzip saves a few hundred bytes at best: not worth the CPU.
MINIMUM_SIZE = 1024
# zlib's default: on the 100-item page, levels 1-9 all give ~17x, and 9 costs
# twice the CPU of 6 for no smaller output (docs/performance.md).
GZIP_LEVEL = 6
# Larger chunks are compressed in a worker thread: ~1 ms of CPU per 100 KiB
# would otherwise stall every other request on the event loop.
THREAD_MINIMUM_SIZE = 128 * 1024

# Already compressed or opaque: gzip would only add bytes and CPU.
INCOMPRESSIBLE_TYPES = frozenset(
    {
        "application/gzip",
        "application/x-gzip",
        "application/zip",
        "application/zstd",
        "application/x-7z-compressed",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-rar-compressed",
        "application/octet-stream",
        "font/woff",
        "font/woff2",
    }
)
INCOMPRESSIBLE_FAMILIES = ("image/", "audio/", "video/")
# 1xx, 204 and 304 carry no body; 206 is a byte range of the identity body.
_BODYLESS_OR_PARTIAL = frozenset({204, 206, 304})
_VARY_VALUE = "Accept-Encoding"


def _quality(parameters: list[str]) -> float | None:
    """The ``q`` weight among an element's parameters: 1 when absent, None when malformed."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                return None
            return weight if 0 <= weight <= 1 else None
    return 1.0


def accepts_gzip(values: Iterable[bytes]) -> bool:
    """Whether ``Accept-Encoding`` header values accept gzip (RFC 9110 12.5.3).

    ``gzip`` (or its alias ``x-gzip``) with a weight above 0 accepts it; when
    it is not listed, ``*`` decides; ``q=0`` refuses. A malformed weight counts
    as a refusal of that element. No header at all means no compression: any
    coding would be acceptable then, but identity is what every client reads.
    """
    gzip_weight: float | None = None
    any_weight: float | None = None
    for value in values:
        for element in value.decode("latin-1").split(","):
            coding, *parameters = element.split(";")
            name = coding.strip().lower()
            if name not in ("gzip", "x-gzip", "*"):
                continue
            weight = _quality(parameters)
            weight = 0.0 if weight is None else weight
            if name == "*":
                any_weight = weight if any_weight is None else max(any_weight, weight)
            else:
                gzip_weight = weight if gzip_weight is None else max(gzip_weight, weight)
    chosen = gzip_weight if gzip_weight is not None else any_weight
    return chosen is not None and chosen > 0


def _is_compressible(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a response with this status and these headers may be gzipped at all."""
    if status < 200 or status in _BODYLESS_OR_PARTIAL:
        return False
    for name, value in headers:
        if name == b"content-encoding":
            return False
        if name == b"cache-control" and b"no-transform" in value.lower():
            return False
        if name == b"content-type" and not _compressible_type(value):
            return False
    return True


# A service sends a handful of distinct Content-Type values: parse each once.
@functools.lru_cache(maxsize=256)
def _compressible_type(content_type: bytes) -> bool:
    """Whether a ``Content-Type`` value names a media type worth compressing."""
    media_type = content_type.decode("latin-1").partition(";")[0].strip().lower()
    return not (
        media_type in INCOMPRESSIBLE_TYPES or media_type.startswith(INCOMPRESSIBLE_FAMILIES)
    )


def _with_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with ``Accept-Encoding`` added to ``Vary`` (merged into an existing one)."""
    result: list[tuple[bytes, bytes]] = []
    merged = False
    for name, value in headers:
        if name == b"vary" and not merged:
            listed = {part.strip().lower() for part in value.decode("latin-1").split(",")}
            if "accept-encoding" not in listed and "*" not in listed:
                value = value + b", " + _VARY_VALUE.encode()
            merged = True
        result.append((name, value))
    if not merged:
        result.append((b"vary", _VARY_VALUE.encode()))
    return result


def _encoded_headers(
    headers: list[tuple[bytes, bytes]], content_length: int | None
) -> list[tuple[bytes, bytes]]:
    """Headers of the gzipped response: its own length (none when streamed), weak ETag."""
    result: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name == b"content-length":
            continue
        if name == b"etag" and not value.startswith(b"W/"):
            # The gzipped bytes are another representation: a strong validator
            # of the identity body must not claim byte equality (RFC 9110 8.8.1).
            value = b"W/" + value
        result.append((name, value))
    result.append((b"content-encoding", b"gzip"))
    if content_length is not None:
        result.append((b"content-length", str(content_length).encode()))
    return result


class Compression:
    """Gzip for one response, or only ``Vary``: what the request middleware asks per request.

    Not an ASGI layer of its own. :class:`service.middleware.RequestContextMiddleware`
    picks ``Accept-Encoding`` up in its one pass over the request headers and then
    either wraps the app's ``send`` in :meth:`gzip_send` (the client accepts gzip)
    or adds ``Vary`` to the response start with :func:`vary_on_encoding`, so
    compression costs no extra layer on every request.
    """

    def __init__(self, minimum_size: int = MINIMUM_SIZE, level: int = GZIP_LEVEL) -> None:
        """Bodies under ``minimum_size`` bytes go out as they are; ``level`` is zlib's."""
        self.minimum_size = minimum_size
        self.level = level

    def gzip_send(self, send: Send) -> Send:
        """``send`` for a client that accepts gzip: compresses the response if worth it."""
        return _GzipSend(send, self.minimum_size, self.level)


def vary_on_encoding(status: int, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response headers for a client that takes no gzip: ``Vary`` added if it could have."""
    return _with_vary(headers) if _is_compressible(status, headers) else headers


class _GzipSend:
    """The ``send`` of one response: holds back its start until the first body chunk."""

    def __init__(self, send: Send, minimum_size: int, level: int) -> None:
        self.send = send
        self.minimum_size = minimum_size
        self.level = level
        self.start: Message | None = None
        self.compressor: zlib._Compress | None = None
        self.passthrough = False

    async def __call__(self, message: Message) -> None:
        if self.passthrough:
            await self.send(message)
        elif message["type"] == "http.response.start":
            await self._on_start(message)
        elif message["type"] == "http.response.body" and self.start is not None:
            await self._on_first_body(message, self.start)
        elif message["type"] == "http.response.body" and self.compressor is not None:
            body = await self._compress(message.get("body", b""), message.get("more_body", False))
            await self.send({**message, "body": body})
        else:
            if self.start is not None:
                # Anything else (pathsend, trailers) after a held start: send it as it is.
                start, self.start = self.start, None
                self.passthrough = True
                await self.send(start)
            await self.send(message)

    async def _on_start(self, message: Message) -> None:
        headers = message.get("headers") or []
        if not _is_compressible(message["status"], headers):
            self.passthrough = True
            await self.send(message)
            return
        self.start = {**message, "headers": _with_vary(headers)}

    async def _on_first_body(self, message: Message, start: Message) -> None:
        self.start = None
        body: bytes = message.get("body", b"")
        more_body: bool = message.get("more_body", False)
        if not more_body and len(body) < self.minimum_size:
            self.passthrough = True
            await self.send(start)
            await self.send(message)
            return
        self.compressor = zlib.compressobj(self.level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        compressed = await self._compress(body, more_body)
        if not more_body and len(compressed) >= len(body):
            # Incompressible after all (random bytes, already packed): send it as it is.
            self.passthrough = True
            await self.send(start)
            await self.send(message)
            return
        length = None if more_body else len(compressed)
        await self.send({**start, "headers": _encoded_headers(start["headers"], length)})
        await self.send({**message, "body": compressed})

    async def _compress(self, body: bytes, more_body: bool) -> bytes:
        if len(body) >= THREAD_MINIMUM_SIZE:
            return await anyio.to_thread.run_sync(self._compress_now, body, more_body)
        return self._compress_now(body, more_body)

    def _compress_now(self, body: bytes, more_body: bool) -> bytes:
        assert self.compressor is not None
        # A sync flush ends each streamed chunk on a byte boundary the client can
        # decode at once; the last one finishes the gzip member with its trailer.
        data = self.compressor.compress(body)
        return data + self.compressor.flush(zlib.Z_SYNC_FLUSH if more_body else zlib.Z_FINISH)
