"""Shipping: the project files a service needs on its host (bind sources, configs, secrets).

``manifest`` finds and digests them on the operator's disk and refuses what lies outside the
project; ``refs`` turns configs and secrets into files to ship; ``copy`` puts them on a host over
its RemoteFiles port, content-addressed, so a container mounts the host's copy.
"""
