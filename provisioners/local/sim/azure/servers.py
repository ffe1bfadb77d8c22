"""The simulated Azure's HTTP servers, on the cluster's bridge address:

- Resource Manager over HTTPS (a certificate made for the bridge address; users point the
  SDK or az at it with REQUESTS_CA_BUNDLE), for `azure deploy` and plain template deployments;
- the same Resource Manager over HTTP for the machines, with Key Vault under /keyvault/NAME and
  blob storage under /blob/ACCOUNT (the node agent's endpoint variables replace the services'
  base URLs; its standard-library client needs no certificate then);
- the instance metadata service, telling machines apart by their source address: instance
  metadata, managed-identity tokens and Scheduled Events, with the Metadata: true header
  required as on Azure.
"""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .replies import Reply
from .world import World

VAULT_PREFIX = "/keyvault/"
BLOB_PREFIX = "/blob/"


def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    payload = reply.body
    if payload is not None and not isinstance(payload, bytes):
        payload = json.dumps(payload).encode()
    data = payload or b""
    handler.send_response(reply.status)
    if not any(k.lower() == "content-type" for k in reply.headers):
        handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.send_header("x-ms-request-id", str(uuid.uuid4()))
    for key, value in reply.headers.items():
        handler.send_header(key, value)
    handler.end_headers()
    if handler.command != "HEAD" and data:
        handler.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    world: World


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class ServicesHandler(_Handler):
    """Resource Manager at the root; Key Vault and blobs under their prefixes."""

    def _serve(self) -> None:
        body = self._body()
        world = self.server.world
        url = urlsplit(self.path)
        token = str(self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if url.path.startswith(VAULT_PREFIX):
            vault, _, rest = url.path.removeprefix(VAULT_PREFIX).partition("/")
            reply = world.handle_vault(token, vault, self.command, rest, body)
        elif url.path.startswith(BLOB_PREFIX):
            account, _, rest = url.path.removeprefix(BLOB_PREFIX).partition("/")
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = world.handle_blob(token, account, self.command, rest, query, headers, body)
        else:
            reply = world.rm.handle(self.command, self.path, self.headers, body)
        _send(self, reply)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _serve


class ImdsHandler(_Handler):
    def _serve(self) -> None:
        body = self._body()
        world = self.server.world
        url = urlsplit(self.path)
        if self.headers.get("Metadata") != "true":
            reply = Reply(400, {"error": "Bad request. Required metadata header not specified"})
        elif url.path == "/metadata/identity/oauth2/token":
            resource = next(iter(parse_qs(url.query).get("resource", [])), "")
            reply = world.handle_token(self.client_address[0], resource)
        else:
            reply = world.handle_imds(self.client_address[0], self.command, url.path, body)
        _send(self, reply)

    do_GET = do_POST = _serve


class Servers:
    """The three servers of one simulated Azure, started and stopped together."""

    def __init__(
        self,
        world: World,
        address: str,
        ports: dict[str, int],
        cert: Path,
        key: Path,
    ) -> None:
        self.address = address
        self.arm_tls = self._server(world, address, ports["arm"], ServicesHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.arm_tls.socket = context.wrap_socket(self.arm_tls.socket, server_side=True)
        self.services = self._server(world, address, ports["services"], ServicesHandler)
        self.imds = self._server(world, address, ports["imds"], ImdsHandler)
        self.all = (self.arm_tls, self.services, self.imds)
        world.rm.base_url = self.arm_url

    @staticmethod
    def _server(
        world: World, address: str, port: int, handler: type[BaseHTTPRequestHandler]
    ) -> _Server:
        server = _Server((address, port), handler)
        server.world = world
        return server

    def _url(self, server: _Server, scheme: str) -> str:
        return f"{scheme}://{self.address}:{server.server_address[1]}"

    @property
    def arm_url(self) -> str:
        return self._url(self.arm_tls, "https")

    @property
    def services_url(self) -> str:
        return self._url(self.services, "http")

    @property
    def imds_url(self) -> str:
        return self._url(self.imds, "http")

    def start(self) -> None:
        for server in self.all:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        for server in self.all:
            server.shutdown()
            server.server_close()
