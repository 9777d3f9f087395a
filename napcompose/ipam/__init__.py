"""Cluster IPAM: the address pool and the allocator over the KeyValueStore port."""

from napcompose.ipam.allocator import Ipam
from napcompose.ipam.pool import Pool

__all__ = ["Ipam", "Pool"]
