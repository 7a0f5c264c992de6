# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throw-away keys and certificates for the TLS tests (unit and integration): a CA, an
intermediate, leaves with any validity, as PEM text (cryptography, from the test toolchain)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.timezone.utc)


def key(kind: str = "ec"):
    return ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_pem(private, passphrase: bytes | None = None) -> str:
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def certificate(
    subject: str, private, issuer: tuple[str, object] | None = None, *, days: float = 365, start_days: float = -1, ca: bool = False
) -> x509.Certificate:
    """A certificate for ``private``'s public key, signed by ``issuer`` (name, key) or self-signed."""
    issuer_name, issuer_key = issuer if issuer else (subject, private)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=start_days))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class Pki:
    """A root CA and an intermediate; ``leaf()`` issues server certificates from the intermediate."""

    def __init__(self) -> None:
        self.root_key = key()
        self.root = certificate("Lab Root CA", self.root_key, ca=True, days=3650)
        self.inter_key = key()
        self.inter = certificate("Lab Intermediate CA", self.inter_key, ("Lab Root CA", self.root_key), ca=True, days=1825)

    def leaf(self, name: str, kind: str = "ec", **validity: float) -> tuple[object, x509.Certificate]:
        private = key(kind)
        return private, certificate(name, private, ("Lab Intermediate CA", self.inter_key), **validity)

    def chain_file(self, name: str, kind: str = "ec", **validity: float) -> str:
        """key, leaf, intermediate: what smtpd_tls_chain_files wants in one file."""
        private, cert = self.leaf(name, kind, **validity)
        return key_pem(private) + cert_pem(cert) + cert_pem(self.inter)
