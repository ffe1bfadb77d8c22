"""Blob storage as the node agent uses it, the same in both fakes of an Azure node's world
(node_cloud.py for the service tests, world.py for the simulation): blobs listed by prefix,
read, deleted, and written - with If-None-Match: * a write fails with 409 BlobAlreadyExists
when the blob exists (the first-manager claim rests on it). Access is checked by the caller.

Blobs are kept in one dict; a key is the container's key (whatever identifies the container
to its fake) followed by the blob's name.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from .replies import Reply

Blobs = dict[tuple[str, ...], bytes]


def blob_reply(
    blobs: Blobs,
    container: tuple[str, ...],
    name: str,
    method: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
) -> Reply:
    key = (*container, name)
    if method == "GET" and query.get("comp") == "list":
        prefix = query.get("prefix", "")
        names = sorted(k[-1] for k in blobs if k[:-1] == container and k[-1].startswith(prefix))
        xml = "".join(f"<Blob><Name>{escape(n)}</Name></Blob>" for n in names)
        text = (
            '<?xml version="1.0" encoding="utf-8"?><EnumerationResults>'
            f"<Blobs>{xml}</Blobs><NextMarker/></EnumerationResults>"
        )
        return Reply(200, text.encode(), {"Content-Type": "application/xml"})
    if method == "GET":
        if key not in blobs:
            return Reply(404, None, {"x-ms-error-code": "BlobNotFound"})
        return Reply(200, blobs[key], {"Content-Type": "application/octet-stream"})
    if method == "DELETE":
        if blobs.pop(key, None) is None:
            return Reply(404, None, {"x-ms-error-code": "BlobNotFound"})
        return Reply(202, None)
    if method == "PUT":
        if headers.get("if-none-match") == "*" and key in blobs:
            return Reply(409, None, {"x-ms-error-code": "BlobAlreadyExists"})
        blobs[key] = body
        return Reply(201, None)
    return Reply(405, None)
