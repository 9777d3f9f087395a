"""Isolation groups on the flat network: who may reach whom, and the bridge filter each host loads.

Every compose network of a project is a group (``<project>/<network>``; a service without networks
is in ``<project>/default``). Two containers reach each other exactly when they share a group; the
hosts, the router, the reserved addresses and containers outside nap-compose's pool are outside
the groups and stay reachable. ``groups`` derives the members from the address records and the
containers' labels, ``ruleset`` renders one host's nftables table (bridge family) deterministically,
``diff`` compares a loaded table with the desired one. Everything here is pure.
"""
