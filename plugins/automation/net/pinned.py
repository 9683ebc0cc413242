"""An httpx transport that connects only to addresses the egress check approved (no second DNS lookup).

`Pins` maps (host, port) to the addresses `AllowList.check` returned for it. The transport's
network backend opens the TCP connection to one of those addresses instead of resolving the host
again, so a DNS answer that changes between the check and the connection (DNS rebinding) cannot
send the request elsewhere. The URL is untouched: the `Host` header, TLS SNI and certificate
verification still use the host name. A host with no pin is refused before any connection.
"""

from __future__ import annotations

import ssl
import threading
import typing

import httpcore
import httpx

from automation.net.egress import IPAddress, Origin


class Pins:
    """Thread-safe (host, port) -> approved addresses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pins: dict[tuple[str, int], tuple[IPAddress, ...]] = {}

    def pin(self, origin: Origin, addresses: typing.Sequence[IPAddress]) -> None:
        with self._lock:
            self._pins[(origin.host, origin.port)] = tuple(addresses)

    def get(self, host: str, port: int) -> tuple[IPAddress, ...]:
        with self._lock:
            return self._pins.get((host.lower().rstrip("."), port), ())


class PinnedBackend(httpcore.SyncBackend):
    """Connects to a pinned address of the requested host, trying each in order."""

    def __init__(self, pins: Pins) -> None:
        self.pins = pins

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.pins.get(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"{host}:{port} was not checked against the egress allow-list")
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not an egress target")


class PinnedTransport(httpx.HTTPTransport):
    """`httpx.HTTPTransport` (no proxy, no environment) whose connections go to pinned addresses."""

    def __init__(self, pins: Pins, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            network_backend=PinnedBackend(pins),
        )
