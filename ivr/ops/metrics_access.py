"""Who may read /metrics: per-node counters show what a caller chose seconds ago.

A scraper presents the bearer token (IVR_METRICS_TOKEN), or calls directly from a network in
IVR_METRICS_ALLOW (default: this host only). A request that came through a reverse proxy
(X-Forwarded-For or Forwarded set) is someone outside however local its peer address looks,
so it needs the token.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache

from flask import Request

from ivr.settings import Settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def allowed_networks(spec: str) -> tuple[IPNetwork, ...]:
    """The networks of IVR_METRICS_ALLOW (already checked by the settings)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def may_read_metrics(settings: Settings, request: Request) -> bool:
    """True for the scrape token, or a direct request from an allowed network."""
    token = settings.metrics_token.get_secret_value()
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
        return True
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        peer = ipaddress.ip_address((request.remote_addr or "").split("%", 1)[0])
    except ValueError:
        return False
    return any(peer in network for network in allowed_networks(settings.metrics_allow))
