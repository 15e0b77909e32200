# SPDX-License-Identifier: Apache-2.0
"""Container networking: the bridge, host and none drivers, IPAM, network namespaces
and veth pairs (over netlink), nftables rules, published ports and the embedded DNS
server. `NetworkService` is the entry point (the /networks backend and a container
lifecycle hook); the other modules are its parts."""

from dockyard.network.service import NetworkService

__all__ = ["NetworkService"]
