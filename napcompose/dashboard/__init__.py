"""A read-only web dashboard of the cluster: hosts, containers, the service graph, the address pool,
hosts-file drift and recent container events, refreshed in the page without reloading it.

``state`` gathers one frozen ``Snapshot`` through the orchestrator and the IPAM; ``render`` and
``views`` turn a Snapshot into HTML, SVG and JSON and never do I/O; ``server`` serves them with the
standard library's HTTP server behind a token.
"""
