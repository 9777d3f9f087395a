"""Names: how a container finds its peers by name.

``hostsfile`` renders and merges the managed block of a container's /etc/hosts (pure text);
``startnames`` the names a container gets at create time (Docker's ``extra_hosts``); ``records`` the
project's names files that the resolver on every host serves.
"""
