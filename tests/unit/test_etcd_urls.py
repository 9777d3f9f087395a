"""Store URLs of both etcd APIs: endpoints parsed the same way, each refusal naming the URL and its form."""

import pytest

from napcompose.adapters.etcd3_store import parse_endpoints3
from napcompose.adapters.etcd_store import parse_endpoints
from napcompose.errors import StoreError


def test_both_apis_read_several_endpoints():
    assert parse_endpoints("etcd://198.18.0.254:2379,198.18.0.253:2379/") == [
        ("198.18.0.254", 2379), ("198.18.0.253", 2379)]
    assert parse_endpoints3("etcd3://[::1]:2379") == [("::1", 2379)]


@pytest.mark.parametrize("parse,url,message", [
    (parse_endpoints, "etcd3://h:1", "'etcd3://h:1' is not an etcd store URL (etcd://host:port[,host:port])"),
    (parse_endpoints3, "etcd://h:1", "'etcd://h:1' is not an etcd v3 store URL (etcd3://host:port[,host:port])"),
    (parse_endpoints3, "etcd3://h:1,h", "'etcd3://h:1,h': endpoint 'h' must be host:port"),
    (parse_endpoints, "etcd://h:70000", "'etcd://h:70000': endpoint 'h:70000' must be host:port"),
])
def test_a_bad_url_is_refused_naming_it(parse, url, message):
    with pytest.raises(StoreError) as err:
        parse(url)
    assert str(err.value) == message


@pytest.mark.parametrize("api", ["etcd", "etcd3"])
def test_a_missing_certificate_file_is_named_before_any_connection(tmp_path, api):
    from napcompose.adapters.stores import open_store
    from napcompose.clustermodel import StoreSpec

    (tmp_path / "ca.pem").write_text("x")
    spec = StoreSpec(url=f"{api}://127.0.0.1:1", ca_cert=str(tmp_path / "ca.pem"), cert=str(tmp_path / "client.pem"),
                     key=str(tmp_path / "client.key"))
    with pytest.raises(StoreError) as err:  # port 1 answers nobody: a connection would say "connection refused"
        open_store(spec)
    assert str(err.value) == f"store.cert: {tmp_path}/client.pem does not exist"
