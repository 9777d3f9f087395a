"""Open the KeyValueStore a cluster's store spec names."""

from __future__ import annotations

from napcompose.errors import StoreError
from napcompose.model import StoreSpec


def open_store(spec: StoreSpec):
    """``etcd://h:p[,h:p]`` gives an EtcdStore (connected and checked), ``file:///path`` a FileStore."""
    url = spec.url
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
    raise StoreError(f"unknown store URL '{url}': use etcd://host:port[,host:port] or file:///path")
