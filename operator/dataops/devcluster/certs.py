"""Certificates for a loopback control plane: a CA, the API server's serving cert, an admin client cert."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertPaths:
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _name(common_name: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _sign(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    *,
    issuer_cert: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey,
    ca: bool = False,
    usages: list[x509.ObjectIdentifier] | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def paths_in(directory: Path) -> CertPaths:
    """Where ``generate`` writes each certificate and key."""
    return CertPaths(
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        admin_cert=directory / "admin.crt",
        admin_key=directory / "admin.key",
        sa_key=directory / "sa.key",
        sa_pub=directory / "sa.pub",
    )


def generate(directory: Path, *, extra_ips: tuple[str, ...] = ()) -> CertPaths:
    """Write every certificate and key the control plane needs into ``directory``.

    ``extra_ips`` are further addresses the API server is reached at (the real node's host address,
    which pods use), added to its serving certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = paths_in(directory)
    ca_key = _key()
    ca_cert = _sign(_name("dataops-dev-ca"), ca_key, issuer_cert=None, issuer_key=ca_key, ca=True)
    _write_key(paths.ca_key, ca_key)
    _write_cert(paths.ca_cert, ca_cert)

    serving_key = _key()
    sans: list[x509.GeneralName] = [
        x509.DNSName(n)
        for n in (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
    ]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "10.0.0.1", *extra_ips)]
    serving = _sign(
        _name("kube-apiserver"),
        serving_key,
        issuer_cert=ca_cert,
        issuer_key=ca_key,
        usages=[ExtendedKeyUsageOID.SERVER_AUTH],
        sans=sans,
    )
    _write_key(paths.serving_key, serving_key)
    _write_cert(paths.serving_cert, serving)

    admin_key = _key()
    admin = _sign(
        _name("dataops-admin", "system:masters"),
        admin_key,
        issuer_cert=ca_cert,
        issuer_key=ca_key,
        usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    _write_key(paths.admin_key, admin_key)
    _write_cert(paths.admin_cert, admin)

    sa_key = _key()
    _write_key(paths.sa_key, sa_key)
    paths.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return paths


def issue_client_cert(
    paths: CertPaths, name: str, *, common_name: str, organization: str
) -> tuple[Path, Path]:
    """A client certificate signed by the cluster CA (e.g. a kubelet's ``system:node:<name>``).

    Returns the certificate and key paths, written beside the CA as ``<name>.crt`` / ``<name>.key``."""
    ca_key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise TypeError("the cluster CA key is not an RSA key")
    ca_cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    key = _key()
    cert = _sign(
        _name(common_name, organization),
        key,
        issuer_cert=ca_cert,
        issuer_key=ca_key,
        usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    cert_path, key_path = paths.ca_cert.with_name(f"{name}.crt"), paths.ca_cert.with_name(f"{name}.key")
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert_path, key_path
