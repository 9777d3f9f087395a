"""Open the KeyValueStore a cluster's store spec names."""

from __future__ import annotations

import os

from napcompose.errors import StoreError
from napcompose.clustermodel import StoreSpec


def _check_tls_files(spec: StoreSpec) -> None:
    """A certificate or key the cluster file names must be readable: the TLS libraries would otherwise
    fail later with an error that names neither the setting nor the file."""
    for field in ("ca_cert", "cert", "key"):
        path = getattr(spec, field)
        if path and not os.access(path, os.R_OK):
            why = "does not exist" if not os.path.exists(path) else "is not readable"
            raise StoreError(f"store.{field}: {path} {why}")


def open_store(spec: StoreSpec):
    """``etcd://h:p[,h:p]`` gives an EtcdStore (v2 API), ``etcd3://h:p[,h:p]`` an Etcd3Store (v3 API), both
    connected and checked, over HTTPS when the spec names a CA or a client certificate; ``file:///path``
    a FileStore."""
    url = spec.url
    if url.startswith(("etcd3://", "etcd://")):
        _check_tls_files(spec)
    if url.startswith("etcd3://"):
        from napcompose.adapters.etcd3_store import Etcd3Store, parse_endpoints3

        return Etcd3Store(parse_endpoints3(url), timeout_s=spec.timeout_s, ca_cert=spec.ca_cert, cert=spec.cert,
                          key=spec.key, username=spec.username, password=spec.password)
    if url.startswith("etcd://"):
        from napcompose.adapters.etcd_store import EtcdStore, parse_endpoints

        return EtcdStore(parse_endpoints(url), timeout_s=spec.timeout_s, ca_cert=spec.ca_cert, cert=spec.cert,
                         key=spec.key, username=spec.username, password=spec.password)
    if url.startswith("file://"):
        from napcompose.adapters.file_store import FileStore

        path = url[len("file://"):]
        if not path.startswith("/"):
            raise StoreError(f"store URL '{url}' needs an absolute path (file:///path/to/store.json)")
        return FileStore(path)
    raise StoreError(f"unknown store URL '{url}': use etcd://host:port[,host:port] (v2 API), "
                     "etcd3://host:port[,host:port] (v3 API) or file:///path")
