"""daphne, closing WebSockets with a close frame instead of a dropped TCP connection.

- An oversize frame: autobahn, under daphne, "fails by drop" by default: the client sees the
  connection vanish and never learns why. With failByDrop off it performs the closing handshake
  with code 1009.
- Shutdown (SIGTERM, Ctrl-C): daphne cancels its applications and the reactor drops every
  connection (the client sees 1006). Every open socket is first closed with 1001 (going away),
  and its client gets up to `CLOSE_WAIT_S` to answer, so it knows to reconnect and resume.

And, with `--proxy-headers`, the client's address is the **last** value of `X-Forwarded-For`, the one
the proxy in front of us wrote; daphne takes the first, which the client chooses (a proxy that appends,
as nginx's `$proxy_add_x_forwarded_for`, keeps what the client sent in front). That address opens
`/metrics` (METRICS_ALLOW_FROM) and feeds the sign-in throttle and the access log.
"""

import asyncio
import time
from typing import Any

from daphne import http_protocol, server, utils, ws_protocol
from daphne.cli import CommandLineInterface
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet import defer
from twisted.web.http_headers import Headers

from .config import ConfigError, exit_on_config_error

CLOSE_WAIT_S = 2.0


class CleanCloseWebSocketFactory(WebSocketFactory):
    def resetProtocolOptions(self) -> None:
        super().resetProtocolOptions()
        self.failByDrop = False


class GoingAwayServer(server.Server):
    def kill_all_applications(self) -> defer.Deferred:
        going = defer.Deferred.fromFuture(asyncio.ensure_future(self.close_sockets()))
        return going.addBoth(lambda _: super(GoingAwayServer, self).kill_all_applications())

    async def close_sockets(self) -> None:
        sockets = [p for p in self.connections if isinstance(p, WebSocketProtocol) and p.state == p.STATE_OPEN]
        for protocol in sockets:
            # sendClose takes only 1000 and 3000–4999, codes for applications; 1001 is the server's own.
            protocol.sendCloseFrame(code=1001, reasonUtf8=b"The server is shutting down; reconnect and resume.")
        deadline = time.monotonic() + CLOSE_WAIT_S
        while any(p.state != p.STATE_CLOSED for p in sockets) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # the clients' close frames, read by the reactor meanwhile


def last_hop_forwarded_for(headers: Any, address_header_name: str | None = "X-Forwarded-For", *args: Any) -> Any:
    """daphne's `parse_x_forwarded_for`, given only the last address of the header (of all its lines): the
    one our proxy added. With no address left the header is dropped, and the peer's address stands."""
    if address_header_name:
        if isinstance(headers, Headers):
            headers = dict(headers.getAllRawHeaders())
        wanted = address_header_name.lower().encode()
        lines: list[bytes] = []
        rest = {}
        for name, value in headers.items():
            if name.lower() == wanted:
                lines.extend(value if isinstance(value, list) else [value])
            else:
                rest[name] = value
        hops = [hop.strip() for hop in b",".join(lines).split(b",") if hop.strip()]
        headers = {**rest, wanted: hops[-1]} if hops else rest
    return utils.parse_x_forwarded_for(headers, address_header_name, *args)


def main() -> None:
    http_protocol.parse_x_forwarded_for = last_hop_forwarded_for  # type: ignore[attr-defined]
    ws_protocol.parse_x_forwarded_for = last_hop_forwarded_for  # type: ignore[attr-defined]
    server.WebSocketFactory = CleanCloseWebSocketFactory  # type: ignore[misc]
    CommandLineInterface.server_class = GoingAwayServer
    try:
        CommandLineInterface.entrypoint()
    except ConfigError as exc:  # the settings, loaded with the application
        exit_on_config_error(exc)


if __name__ == "__main__":
    main()
