"""Which hosts outbound HTTP may reach: an allow-list, checked after DNS resolution.

`AUTOMATION_HTTP_ALLOWED_HOSTS` is a comma list of entries: a host name (`api.example.com`), a
suffix (`*.example.com`), an IP or CIDR (`10.1.2.0/24`), or `*` (any host with public
addresses). Private, loopback, link-local and other non-public addresses are refused unless the
host or address is listed explicitly (`*` and suffixes do not open them).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from automation.errors import PermanentActionError

ALLOWED_HOSTS_ENV = "AUTOMATION_HTTP_ALLOWED_HOSTS"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressDenied(PermanentActionError):
    """The URL's host is not allowed; a retry cannot change that."""


@dataclass(frozen=True)
class AllowList:
    entries: tuple[str, ...]

    @classmethod
    def from_env(cls) -> AllowList:
        raw = os.environ.get(ALLOWED_HOSTS_ENV, "")
        return cls(tuple(e.strip().lower() for e in raw.split(",") if e.strip()))

    def _explicit(self, host: str, address: IPAddress) -> bool:
        for entry in self.entries:
            if entry == host:
                return True
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def _host_listed(self, host: str) -> bool:
        return any(
            entry == "*" or entry == host or (entry.startswith("*.") and host.endswith(entry[1:]))
            for entry in self.entries
        ) or any(self._ip_entry_matches(entry, host) for entry in self.entries)

    @staticmethod
    def _ip_entry_matches(entry: str, host: str) -> bool:
        try:
            return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False

    def check(self, url: str) -> list[IPAddress]:
        """The addresses `url` resolves to, all allowed; `EgressDenied` otherwise."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            raise EgressDenied(f"url: only http and https are allowed, got {parts.scheme or 'no scheme'!r}")
        host = (parts.hostname or "").lower()
        if not host:
            raise EgressDenied(f"url: no host in {url!r}")
        if not self._host_listed(host):
            raise EgressDenied(
                f"host {host!r} is not in the allow-list; add it to {ALLOWED_HOSTS_ENV} "
                f"(now: {', '.join(self.entries) or 'empty'})"
            )
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise EgressDenied(f"host {host!r} does not resolve: {exc}") from exc
        addresses = sorted({ipaddress.ip_address(info[4][0]) for info in infos}, key=str)
        for address in addresses:
            if not address.is_global and not self._explicit(host, address):
                raise EgressDenied(
                    f"host {host!r} resolves to {address}, a private/loopback/link-local address; "
                    f"list {host} or {address} explicitly in {ALLOWED_HOSTS_ENV} to allow it"
                )
        return addresses
