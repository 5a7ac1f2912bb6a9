"""Column values as the driver returns them, turned into the types the library uses."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface, ip_address


def to_address(value: object) -> IPv4Address | IPv6Address:
    """An ``INET`` value as the driver returns it (address, interface or text) → address."""
    if isinstance(value, IPv4Address | IPv6Address):
        return value
    if isinstance(value, IPv4Interface | IPv6Interface):
        return value.ip
    return ip_address(str(value).split("/", 1)[0])


def enum_text(value: object) -> str:
    """An enum column's value as text, whether the driver returns the enum or a string."""
    return str(getattr(value, "value", value))
