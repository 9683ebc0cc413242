"""Which hosts outbound HTTP may reach: an allow-list, checked after DNS resolution.

The `[automation] http_allowed_hosts` setting is a comma list of entries: a host name (`api.example.com`), a
suffix (`*.example.com`), an IP or CIDR (`10.1.2.0/24`), or `*` (any host with public
addresses). Private, loopback, link-local and other non-public addresses are refused unless the
host or address is listed explicitly (`*` and suffixes do not open them).

An IPv6 address that carries an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
`::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo `2001::/32`) is judged by the IPv4
address it reaches; the local-use NAT64 prefix `64:ff9b:1::/48` is never public. The addresses
`check` returns are the only ones a connection may use (`automation.net.pinned`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import httpx

from automation.config import http_allowed_hosts
from automation.errors import PermanentActionError

ALLOWED_HOSTS_ENV = "[automation] http_allowed_hosts (AIRFLOW__AUTOMATION__HTTP_ALLOWED_HOSTS)"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class EgressDenied(PermanentActionError):
    """The URL's host is not allowed; a retry cannot change that."""


@dataclass(frozen=True)
class Origin:
    """Scheme, host (ASCII, IDNA-encoded, lower case, IPv6 without brackets) and port of a URL."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str | httpx.URL) -> Origin:
        try:
            parsed = httpx.URL(url) if isinstance(url, str) else url
        except httpx.InvalidURL as exc:
            raise EgressDenied(f"url: {url!r} is not a valid URL: {exc}") from exc
        scheme = parsed.scheme.lower()
        if scheme not in {"http", "https"}:
            raise EgressDenied(f"url: only http and https are allowed, got {scheme or 'no scheme'!r}")
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
        if not host:
            raise EgressDenied(f"url: no host in {str(url)!r}")
        return cls(scheme, host, parsed.port or (443 if scheme == "https" else 80))


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through a transition form, if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def is_public(address: IPAddress) -> bool:
    """Globally reachable, judged by the IPv4 address an IPv6 transition form carries."""
    if isinstance(address, ipaddress.IPv6Address) and address in _NAT64_LOCAL:
        return False
    inner = embedded_ipv4(address)
    if inner is not None:
        return inner.is_global
    return address.is_global


@dataclass(frozen=True)
class AllowList:
    entries: tuple[str, ...]

    @classmethod
    def from_env(cls) -> AllowList:
        return cls(tuple(e.lower() for e in http_allowed_hosts()))

    def _networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        networks = []
        for entry in self.entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                continue
        return networks

    def _explicit(self, host: str, address: IPAddress) -> bool:
        """The host, the address or the IPv4 address it carries is listed by name, IP or CIDR."""
        if host in self.entries:
            return True
        candidates = [address, *filter(None, [embedded_ipv4(address)])]
        return any(a.version == n.version and a in n for a in candidates for n in self._networks())

    def _host_listed(self, host: str) -> bool:
        if any(entry == "*" or entry == host or (entry.startswith("*.") and host.endswith(entry[1:]))
               for entry in self.entries):  # fmt: skip
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return self._explicit(host, address)

    def check(self, url: str) -> list[IPAddress]:
        """The addresses `url` resolves to, all allowed; `EgressDenied` otherwise."""
        origin = Origin.of(url)
        host = origin.host
        if not self._host_listed(host):
            raise EgressDenied(
                f"host {host!r} is not in the allow-list; add it to {ALLOWED_HOSTS_ENV} "
                f"(now: {', '.join(self.entries) or 'empty'})"
            )
        try:
            infos = socket.getaddrinfo(host, origin.port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            raise EgressDenied(f"host {host!r} does not resolve: {exc}") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))
        if not addresses:
            raise EgressDenied(f"host {host!r} does not resolve to any address")
        for address in addresses:
            if not is_public(address) and not self._explicit(host, address):
                inner = embedded_ipv4(address)
                carried = f" (which reaches {inner})" if inner is not None else ""
                raise EgressDenied(
                    f"host {host!r} resolves to {address}{carried}, a private/loopback/link-local address; "
                    f"list {host} or {inner or address} explicitly in {ALLOWED_HOSTS_ENV} to allow it"
                )
        return addresses
