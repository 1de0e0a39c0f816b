"""A provider that misbehaves on purpose, as its own process on a loopback port.

    python -m tests.federation.misbehaving MODE PORT

hang      reads the request, never answers
error     HTTP 500 with a LoopBack error body
garbage   HTTP 200 whose body is not JSON
shape     HTTP 200 with JSON that is no PaNOSC answer
drip      HTTP 200, then the body one byte every 0.2 s (never finishing inside a timeout)
slow      answers a valid empty list / zero count after DELAY seconds (env SLOW_DELAY, default 0.3)
dropfirst closes its first connection without answering (as a server closing an idle kept-alive
          connection just as it is reused), then answers an empty list
foreign   a working PaNOSC API of another make: capitalised paths only, counts as a bare number,
          integer ids, its own scores, no /corpus extension

Written on raw asyncio streams so the misbehaviour is exact (no framework
smoothing it over).  Prints "ready" once listening.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from urllib.parse import parse_qs, urlsplit

FOREIGN = [{"pid": number, "title": f"Foreign dataset {number:02d}", "isPublic": True, "creationDate": "2020-01-01T00:00:00Z"}
           for number in range(1, 8)]


def _foreign(target: str) -> tuple[str, bytes]:
    """The other implementation's answers (a small fixed catalogue, sorted by title)."""
    parts = urlsplit(target)
    arguments = {name: values[0] for name, values in parse_qs(parts.query).items()}
    if parts.path == "/api/Datasets/count":
        return "200 OK", str(len(FOREIGN)).encode()
    if parts.path == "/api/Datasets":
        wanted = json.loads(arguments.get("filter", "{}"))
        skip, limit = int(wanted.get("skip", 0)), int(wanted.get("limit", 100))
        page = [dict(record, score=0.5 if "query" in arguments else 0) for record in FOREIGN][skip : skip + limit]
        return "200 OK", json.dumps(page).encode()
    if parts.path.startswith("/api/Datasets/") and parts.path.count("/") == 3:
        pid = parts.path.rsplit("/", 1)[1]
        found = [record for record in FOREIGN if str(record["pid"]) == pid]
        if found:
            return "200 OK", json.dumps(found[0]).encode()
    return "404 Not Found", b'{"error":{"statusCode":404,"message":"not found"}}'


def _response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def _read_request(reader: asyncio.StreamReader) -> str | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    return head.split(b" ", 2)[1].decode("latin-1")


async def serve(mode: str, port: int) -> None:
    delay = float(os.environ.get("SLOW_DELAY", "0.3"))
    dropped = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                target = await _read_request(reader)
                if target is None:
                    return
                if mode == "dropfirst" and not dropped:
                    dropped.append(target)
                    return  # closes the connection (finally) without a byte of answer
                if mode == "dropfirst":
                    writer.write(_response("200 OK", b"[]"))
                elif mode == "hang":
                    await asyncio.sleep(3600)
                elif mode == "error":
                    body = b'{"error":{"statusCode":500,"name":"InternalServerError","message":"database on fire"}}'
                    writer.write(_response("500 Internal Server Error", body))
                elif mode == "garbage":
                    writer.write(_response("200 OK", b"<html>this is not JSON</html>", "text/html"))
                elif mode == "shape":
                    writer.write(_response("200 OK", b'{"hello": "world"}'))
                elif mode == "drip":
                    body = b"[" + b" " * 10_000 + b"]"
                    writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode())
                    for byte in body:
                        writer.write(bytes([byte]))
                        await writer.drain()
                        await asyncio.sleep(0.2)
                elif mode == "foreign":
                    status, body = _foreign(target)
                    writer.write(_response(status, body))
                elif mode == "slow":
                    await asyncio.sleep(delay)
                    path = target.split("?", 1)[0]
                    writer.write(_response("200 OK", b'{"count":0}' if path.endswith("/count") else b"[]"))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
