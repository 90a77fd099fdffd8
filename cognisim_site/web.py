"""daphne, answering an oversize frame with a close frame (1009) instead of a dropped TCP connection.

Autobahn, under daphne, "fails by drop" by default: the client sees the connection vanish and
never learns why. With failByDrop off it performs the closing handshake with code 1009.
"""

from daphne import server
from daphne.cli import CommandLineInterface
from daphne.ws_protocol import WebSocketFactory


class CleanCloseWebSocketFactory(WebSocketFactory):
    def resetProtocolOptions(self) -> None:
        super().resetProtocolOptions()
        self.failByDrop = False


def main() -> None:
    server.WebSocketFactory = CleanCloseWebSocketFactory  # type: ignore[misc]
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
