"""Names: how a container finds its peers by name.

``hostsfile`` renders and merges the managed block of a container's /etc/hosts (pure text).
"""
