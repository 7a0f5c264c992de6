# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The design's tls on a booted lab host: TLS material checked before the configuration that uses
it goes live.

- a good set (an ECDSA chain file, an RSA key and certificate in separate files) goes live: the
  instance's own listener offers STARTTLS and ``openssl s_client -starttls smtp`` receives the
  declared certificate (subject, issuer, fingerprint); a second run changes nothing;
- a key that does not match, a missing chain file, a key that exists only inside the instance's
  chroot jail (smtpd reads its keys before it enters the jail), an encrypted key and an expired
  certificate are each refused, in check mode and for real, with the file named, and main.cf is
  left as it was; the listener still serves the old certificate;
- a certificate that expires soon goes live with a warning naming its file;
- postfix_tls_info reads what the instance's main.cf names and reports the same: ok for the good set,
  the file and its expiry once it is replaced in place by an expired certificate.
"""

from __future__ import annotations

import labhost
import tls_pki

MODULE = "mailops.postfix_multi.postfix_multi_host"
INFO = "mailops.postfix_multi.postfix_tls_info"
TLS_DIR = "/etc/postfix-out/tls"
QUEUE = "/var/spool/postfix-out"


def put(host: labhost.Host, path: str, text: str, mode: str = "0600") -> None:
    host.run("sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"', "sh", path, mode, input=text)


def design(host: labhost.BootedHost, chains: list[dict], **tls) -> dict:
    return {
        "instances": [
            {
                "name": "postfix-out",
                "parameters": {"inet_interfaces": host.addresses[1], "myhostname": f"out.{host.name}.lab.example"},
                "absent_parameters": ["master_service_disable"],
                "tls": {"chains": chains, "security_level": "may", **tls},
            }
        ],
        "primary_parameters": {"inet_interfaces": host.addresses[0]},
        "probe": True,
        "probe_timeout": 60,
    }


def served_certificate(host: labhost.Host, address: str, *extra: str) -> str:
    """subject, issuer and fingerprint of the certificate the listener presents after STARTTLS."""
    hello = host.run(
        "openssl", "s_client", "-starttls", "smtp", "-connect", f"{address}:25", "-servername", "out", *extra, input="QUIT\n", check=False, timeout=30
    )
    assert "BEGIN CERTIFICATE" in hello.stdout, hello.stdout + hello.stderr
    shown = host.run("openssl", "x509", "-noout", "-subject", "-issuer", "-fingerprint", "-sha256", "-nameopt", "RFC2253", input=hello.stdout)
    return shown.stdout


def fingerprint(host: labhost.Host, pem: str) -> str:
    return host.run("openssl", "x509", "-noout", "-fingerprint", "-sha256", input=pem).stdout.strip()


def test_tls_material_checked_before_use(new_booted):
    host = new_booted("tlsmat")
    pki = tls_pki.Pki()
    name = f"out.{host.name}.lab.example"
    ec_key, ec_cert = pki.leaf(name, "ec")
    rsa_key, rsa_cert = pki.leaf(name, "rsa")
    put(host, f"{TLS_DIR}/ec.pem", tls_pki.key_pem(ec_key) + tls_pki.cert_pem(ec_cert) + tls_pki.cert_pem(pki.inter))
    put(host, f"{TLS_DIR}/rsa.key", tls_pki.key_pem(rsa_key))
    put(host, f"{TLS_DIR}/rsa.crt", tls_pki.cert_pem(rsa_cert) + tls_pki.cert_pem(pki.inter), "0644")
    good = [{"chain_file": f"{TLS_DIR}/ec.pem"}, {"key_file": f"{TLS_DIR}/rsa.key", "cert_file": f"{TLS_DIR}/rsa.crt"}]

    first = host.module(MODULE, module_args=design(host, good))
    assert first.get("failed") is not True, first.get("msg")
    assert first["changed"] is True
    main_cf = host.read("/etc/postfix-out/main.cf")
    assert f"smtpd_tls_chain_files = {TLS_DIR}/ec.pem, {TLS_DIR}/rsa.key, {TLS_DIR}/rsa.crt" in main_cf
    assert "smtpd_tls_cert_file" not in main_cf
    assert "BEGIN" not in str(first)  # no key or certificate text in the result or its diff
    chains = first["instances"]["postfix-out"]["tls"]["chains"]
    assert [cert["subject"] for cert in chains[0]] == [f"CN={name}", "CN=Lab Intermediate CA"]

    served = served_certificate(host, host.addresses[1])
    assert f"subject=CN={name}" in served and "issuer=CN=Lab Intermediate CA" in served, served
    assert served_certificate(host, host.addresses[1], "-sigalgs", "rsa_pss_rsae_sha256:rsa_pkcs1_sha256").endswith(
        fingerprint(host, tls_pki.cert_pem(rsa_cert)).split("=", 1)[1] + "\n"
    )
    assert served_certificate(host, host.addresses[1], "-sigalgs", "ecdsa_secp256r1_sha256").endswith(
        fingerprint(host, tls_pki.cert_pem(ec_cert)).split("=", 1)[1] + "\n"
    )
    again = host.module(MODULE, module_args=design(host, good))
    assert again.get("failed") is not True and again["changed"] is False, again.get("drift")
    info = host.module(INFO, name="postfix-out")
    assert info["ok"] is True and info["changed"] is False, info
    assert info["instances"][0]["files"] == [f"{TLS_DIR}/ec.pem", f"{TLS_DIR}/rsa.key", f"{TLS_DIR}/rsa.crt"]
    assert [chain[0]["subject"] for chain in info["instances"][0]["chains"]] == [f"CN={name}"] * 2

    # each bad set: the file named, nothing changed (check mode and apply)
    other_key = tls_pki.key("ec")
    put(host, f"{TLS_DIR}/wrong.pem", tls_pki.key_pem(other_key) + tls_pki.cert_pem(ec_cert))
    put(host, f"{QUEUE}{TLS_DIR}/jailed.pem", tls_pki.key_pem(ec_key) + tls_pki.cert_pem(ec_cert))
    put(host, f"{TLS_DIR}/locked.pem", tls_pki.key_pem(ec_key, b"passphrase") + tls_pki.cert_pem(ec_cert))
    put(host, f"{TLS_DIR}/expired.pem", pki.chain_file(name, days=-2, start_days=-60))
    bad = {
        f"{TLS_DIR}/wrong.pem": f"the private key (PEM object number 1) does not match the certificate CN={name}",
        f"{TLS_DIR}/missing.pem": "does not exist",
        f"{TLS_DIR}/jailed.pem": f"does not exist (a copy exists inside the chroot jail, {QUEUE}{TLS_DIR}/jailed.pem",
        f"{TLS_DIR}/locked.pem": "the private key (PEM object number 1) is encrypted; Postfix cannot use a key that needs a passphrase",
        f"{TLS_DIR}/expired.pem": f"the certificate CN={name} expired on",
    }
    for path, reason in bad.items():
        chains = [{"chain_file": path}, good[1]]
        for check in (True, False):
            result = host.module(MODULE, check=check, module_args=design(host, chains))
            assert result.get("failed") is True, (path, check, result)
            assert f"postfix-out: {path}: {reason}" in result["msg"], result["msg"]
            assert "BEGIN" not in str(result)
            assert host.read("/etc/postfix-out/main.cf") == main_cf, path
    assert f"subject=CN={name}" in served_certificate(host, host.addresses[1])

    # expiring soon: goes live, with a warning that names the file
    put(host, f"{TLS_DIR}/soon.pem", pki.chain_file(name, days=5))
    soon = host.module(MODULE, module_args=design(host, [{"chain_file": f"{TLS_DIR}/soon.pem"}], expiry_warning_days=10))
    assert soon.get("failed") is not True and soon["changed"] is True, soon.get("msg")
    assert any(f"{TLS_DIR}/soon.pem: the certificate CN={name} expires on" in line for line in soon["warnings"]), soon["warnings"]
    assert f"smtpd_tls_chain_files = {TLS_DIR}/soon.pem" in host.read("/etc/postfix-out/main.cf")

    # renewed in place with an expired certificate: not a change to the design, but postfix_tls_info tells
    put(host, f"{TLS_DIR}/soon.pem", pki.chain_file(name, days=-1, start_days=-30))
    info = host.module(INFO, name="postfix-out")
    assert info["ok"] is False
    assert info["instances"][0]["problems"] == [f"{TLS_DIR}/soon.pem: the certificate CN={name} expired on {info['instances'][0]['chains'][0][0]['not_after']}"]
    assert any(line.startswith(f"postfix-out: {TLS_DIR}/soon.pem: the certificate") for line in info["warnings"]), info["warnings"]
    assert "BEGIN" not in str(info)
