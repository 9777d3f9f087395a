"""Placement: which host runs each replica.

``constraints`` parses the rules a compose file writes (constraints, published host ports, spread
preferences); ``place`` applies them: existing replicas stay put, new ones by strategy, deterministically.
"""
