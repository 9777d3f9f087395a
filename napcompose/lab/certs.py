"""The lab's store certificates: a CA, one certificate for the etcd members, one for the store's clients.

etcd runs with ``--client-cert-auth``: only a client that shows a certificate signed by the lab's CA
may read or write the store, so a container on the lab's segment, which can reach the members'
addresses, gets nothing from them. The members' certificate names every member address (IP SANs)
and serves both ends of their peer connections too. Everything is made by ``lab up`` with the
``cryptography`` package (paramiko's own dependency), kept in DIR/etcd/tls/; the private keys are
readable by their owner only.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 365
SERVER, CLIENT = "server", "client"
_USAGES = {SERVER: (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
           CLIENT: (ExtendedKeyUsageOID.CLIENT_AUTH,)}


@dataclass(frozen=True)
class StoreTls:
    """Where the lab's store certificates and keys live."""

    dir: str

    def _path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    @property
    def ca(self) -> str:
        return self._path("ca.pem")

    @property
    def ca_key(self) -> str:
        return self._path("ca.key")

    @property
    def server_cert(self) -> str:
        return self._path("server.pem")

    @property
    def server_key(self) -> str:
        return self._path("server.key")

    @property
    def client_cert(self) -> str:
        return self._path("client.pem")

    @property
    def client_key(self) -> str:
        return self._path("client.key")

    def complete(self) -> bool:
        return all(os.path.isfile(p) for p in (self.ca, self.server_cert, self.server_key, self.client_cert,
                                               self.client_key))

    def client_context(self) -> ssl.SSLContext:
        """A TLS context that trusts only the lab's CA and presents the client certificate."""
        context = ssl.create_default_context(cafile=self.ca)
        context.load_cert_chain(self.client_cert, self.client_key)
        return context


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: str, key) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    # created 0600 from the start: the key is never readable by others, not even for a moment
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)  # an older file of that name keeps its mode through O_TRUNC


def _write_cert(path: str, cert: x509.Certificate) -> None:
    with open(path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nap-compose lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _window():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now - datetime.timedelta(hours=1), now + datetime.timedelta(days=VALID_DAYS)


def make_ca(cert_path: str, key_path: str, common_name: str) -> None:
    key = _key()
    begins, ends = _window()
    cert = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(begins).not_valid_after(ends)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_key(key_path, key)
    _write_cert(cert_path, cert)


def issue(ca_cert_path: str, ca_key_path: str, cert_path: str, key_path: str, common_name: str, kind: str,
          addresses: Sequence[str] = ()) -> None:
    """A certificate signed by the CA: ``server`` (serverAuth and clientAuth, since etcd's members and its
    HTTP gateway also connect as clients with it) for ``addresses`` as IP SANs, or ``client``."""
    with open(ca_cert_path, "rb") as fh:
        ca = x509.load_pem_x509_certificate(fh.read())
    with open(ca_key_path, "rb") as fh:
        ca_key = serialization.load_pem_private_key(fh.read(), password=None)
    key = _key()
    begins, ends = _window()
    builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(begins).not_valid_after(ends)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(list(_USAGES[kind])), critical=False))
    if addresses:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]), critical=False)
    _write_key(key_path, key)
    _write_cert(cert_path, builder.sign(ca_key, hashes.SHA256()))


def make(directory: str, lab_name: str, addresses: Sequence[str]) -> StoreTls:
    """A fresh CA, the members' certificate for ``addresses`` and the client certificate in ``directory``."""
    tls = StoreTls(directory)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    make_ca(tls.ca, tls.ca_key, f"nap-compose lab {lab_name} store CA")
    issue(tls.ca, tls.ca_key, tls.server_cert, tls.server_key, f"etcd of lab {lab_name}", SERVER, addresses)
    issue(tls.ca, tls.ca_key, tls.client_cert, tls.client_key, f"nap-compose (lab {lab_name})", CLIENT)
    return tls
