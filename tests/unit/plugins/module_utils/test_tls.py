# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TLS material checked as smtpd(8) loads it (tls_certkey.c; postconf(5) smtpd_tls_chain_files):
a key first, directly followed by its certificate, then the issuers leaf first; matching key and
certificate; nothing expired; the file at its host path. Real openssl, certificates made here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tls_pki
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._tls import TlsSpec, check_material, check_spec, configured_spec, merge_parameters
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._converge import expand_tls

PKI = tls_pki.Pki()


def write(path: Path, text: str, mode: int = 0o600) -> str:
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_good_chain_files_one_per_algorithm(tmp_path):
    ec_file = write(tmp_path / "ec.pem", PKI.chain_file("mx.example"))
    rsa_file = write(tmp_path / "rsa.pem", PKI.chain_file("mx.example", kind="rsa"))
    report = check_material(TlsSpec([ec_file, rsa_file]))
    assert report.problems == [] and report.warnings == []
    assert [[cert["subject"] for cert in chain] for chain in report.chains] == [["CN=mx.example", "CN=Lab Intermediate CA"]] * 2
    assert report.chains[0][0]["days_left"] in (363, 364)


def test_key_and_cert_in_separate_files(tmp_path):
    private, cert = PKI.leaf("mx.example")
    key_file = write(tmp_path / "key.pem", tls_pki.key_pem(private))
    cert_file = write(tmp_path / "cert.pem", tls_pki.cert_pem(cert) + tls_pki.cert_pem(PKI.inter), 0o644)
    spec = check_spec("i", {"chains": [{"key_file": key_file, "cert_file": cert_file}]})
    assert spec is not None and spec.files == [key_file, cert_file]
    assert check_material(spec).ok


def test_key_that_does_not_match(tmp_path):
    _private, cert = PKI.leaf("mx.example")
    other = tls_pki.key()
    path = write(tmp_path / "wrong.pem", tls_pki.key_pem(other) + tls_pki.cert_pem(cert))
    report = check_material(TlsSpec([path]))
    assert len(report.problems) == 1
    assert report.problems[0].startswith(f"{path}: the private key") and "does not match" in report.problems[0]


def test_leaf_after_its_issuer_is_out_of_order(tmp_path):
    private, cert = PKI.leaf("mx.example")
    path = write(tmp_path / "swapped.pem", tls_pki.key_pem(private) + tls_pki.cert_pem(PKI.inter) + tls_pki.cert_pem(cert))
    report = check_material(TlsSpec([path]))
    assert report.problems and "order must be key, its certificate" in report.problems[0], report.problems


def test_issuers_out_of_order(tmp_path):
    private, cert = PKI.leaf("mx.example")
    text = tls_pki.key_pem(private) + tls_pki.cert_pem(cert) + tls_pki.cert_pem(PKI.root) + tls_pki.cert_pem(PKI.inter)
    report = check_material(TlsSpec([write(tmp_path / "c.pem", text)]))
    assert report.problems and "chain out of order" in report.problems[0] and "CN=Lab Root CA" in report.problems[0], report.problems


def test_certificate_before_key(tmp_path):
    private, cert = PKI.leaf("mx.example")
    path = write(tmp_path / "c.pem", tls_pki.cert_pem(cert) + tls_pki.key_pem(private))
    report = check_material(TlsSpec([path]))
    assert report.problems and "comes before any private key" in report.problems[0]


def test_key_without_certificate_in_the_next_file_order(tmp_path):
    private, cert = PKI.leaf("mx.example")
    key_file = write(tmp_path / "key.pem", tls_pki.key_pem(private))
    cert_file = write(tmp_path / "cert.pem", tls_pki.cert_pem(cert))
    # the certificate's file listed before the key's: Postfix reads the concatenation in list order
    report = check_material(TlsSpec([cert_file, key_file]))
    assert report.problems and cert_file in report.problems[0]


def test_expired_is_refused_expiring_soon_is_a_warning(tmp_path):
    expired = write(tmp_path / "old.pem", PKI.chain_file("old.example", days=-1, start_days=-30))
    report = check_material(TlsSpec([expired]))
    assert report.problems == [f"{expired}: the certificate CN=old.example expired on {report.chains[0][0]['not_after']}"]
    soon = write(tmp_path / "soon.pem", PKI.chain_file("soon.example", days=10))
    report = check_material(TlsSpec([soon], expiry_warning_days=30))
    assert report.ok and len(report.warnings) == 1 and "within 30 days" in report.warnings[0] and soon in report.warnings[0]
    assert check_material(TlsSpec([soon], expiry_warning_days=5)).warnings == []


def test_not_yet_valid(tmp_path):
    path = write(tmp_path / "future.pem", PKI.chain_file("future.example", start_days=2, days=90))
    assert "is not valid before" in check_material(TlsSpec([path])).problems[0]


def test_missing_file_names_the_jail_copy(tmp_path):
    jail = tmp_path / "spool"
    target = tmp_path / "etc" / "mx.pem"
    (jail / str(target).lstrip("/")).parent.mkdir(parents=True)
    write(jail / str(target).lstrip("/"), PKI.chain_file("mx.example"))
    report = check_material(TlsSpec([str(target)]), queue_directory=str(jail))
    assert report.problems[0].startswith(f"{target}: does not exist (a copy exists inside the chroot jail")


def test_unreadable_and_not_a_file(tmp_path):
    assert check_material(TlsSpec([str(tmp_path)])).problems == [f"{tmp_path}: not a regular file"]
    if os.geteuid() != 0:  # root reads it anyway, as smtpd does
        path = write(tmp_path / "k.pem", PKI.chain_file("mx.example"), 0o000)
        assert "cannot be read" in check_material(TlsSpec([path])).problems[0]


def test_encrypted_key_is_refused_and_no_secret_is_reported(tmp_path):
    private, cert = PKI.leaf("mx.example")
    key_text = tls_pki.key_pem(private, passphrase=b"hunter2")
    path = write(tmp_path / "enc.pem", key_text + tls_pki.cert_pem(cert))
    report = check_material(TlsSpec([path]))
    assert report.problems == [f"{path}: the private key (PEM object number 1) is encrypted; Postfix cannot use a key that needs a passphrase"]


def test_key_readable_by_others_is_a_warning_and_no_key_material_leaks(tmp_path):
    text = PKI.chain_file("mx.example")
    path = write(tmp_path / "open.pem", text, 0o644)
    report = check_material(TlsSpec([path]))
    assert report.ok and "mode 0644" in report.warnings[0]
    body = "".join(text.split("-----END PRIVATE KEY-----")[0].splitlines()[1:])
    assert body[:40] not in repr(report.as_dict())


def test_no_pem(tmp_path):
    path = write(tmp_path / "x.pem", "hello\n")
    assert check_material(TlsSpec([path])).problems == [f"{path}: no PEM data (Postfix reads keys and certificates in PEM format)"]


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"chains": []}, "declare at least one"),
        ({"chains": [{"chain_file": "relative.pem"}]}, "must be an absolute path"),
        ({"chains": [{"chain_file": "/etc/a b.pem"}]}, "no whitespace, comma or $"),
        ({"chains": [{"chain_file": "$config_directory/a.pem"}]}, "must be an absolute path"),
        ({"chains": [{"key_file": "/k.pem"}]}, "give either chain_file"),
        ({"chains": [{"chain_file": "/c.pem", "key_file": "/k.pem"}]}, "give either chain_file"),
        ({"chains": [{"chain_file": "/c.pem"}], "expiry_warning_days": -1}, "expiry_warning_days"),
        ({"chains": [{"chain_file": "/c.pem"}], "security_level": "dane"}, "security_level"),
    ],
)
def test_bad_specs(tls, message):
    with pytest.raises(PostfixMultiError, match=None) as caught:
        check_spec("postfix_multi_instances[0]", tls)
    assert message in caught.value.msg and caught.value.msg.startswith("postfix_multi_instances[0].tls")


def test_parameters_and_legacy_removed():
    spec = check_spec("i", {"chains": [{"chain_file": "/etc/postfix-a/rsa.pem"}, {"key_file": "/k.pem", "cert_file": "/c.pem"}], "security_level": "may"})
    assert spec is not None
    params, absent = merge_parameters("i", spec, {"myhostname": "a"}, ["x"])
    assert params == {"myhostname": "a", "smtpd_tls_chain_files": "/etc/postfix-a/rsa.pem, /k.pem, /c.pem", "smtpd_tls_security_level": "may"}
    assert absent[0] == "x" and "smtpd_tls_cert_file" in absent and "smtpd_tls_key_file" in absent
    with pytest.raises(PostfixMultiError, match="smtpd_tls_chain_files come from tls"):
        merge_parameters("i", spec, {"smtpd_tls_chain_files": "/x"}, [])
    plain = check_spec("i", {"chains": [{"chain_file": "/c.pem"}]})
    assert plain is not None
    assert merge_parameters("i", plain, {"smtpd_tls_security_level": "encrypt"}, [])[0]["smtpd_tls_security_level"] == "encrypt"


def test_configured_spec_reads_what_smtpd_loads():
    chain = configured_spec({"smtpd_tls_chain_files": "/a.pem, /b.key /b.crt", "smtpd_tls_cert_file": "/legacy.pem", "smtpd_tls_security_level": "may"})
    assert chain is not None and chain.files == ["/a.pem", "/b.key", "/b.crt"] and chain.pairs == [] and chain.security_level == "may"
    legacy = configured_spec({"smtpd_tls_cert_file": "/c.pem", "smtpd_tls_key_file": "/k.pem", "smtpd_tls_eccert_file": "/ec.pem", "smtpd_tls_eckey_file": ""})
    assert legacy is not None and legacy.files == [] and legacy.pairs == [("/k.pem", "/c.pem"), ("/ec.pem", "/ec.pem")]
    assert configured_spec({"smtpd_tls_cert_file": "none"}) is None
    assert configured_spec({}) is None


def test_legacy_pair_in_any_order_within_one_file(tmp_path):
    private, cert = PKI.leaf("mx.example")
    both = write(tmp_path / "both.pem", tls_pki.cert_pem(cert) + tls_pki.cert_pem(PKI.inter) + tls_pki.key_pem(private))
    report = check_material(TlsSpec([], pairs=[(both, both)]))
    assert report.ok, report.problems
    _other, wrong_cert = PKI.leaf("other.example")
    cert_file = write(tmp_path / "wrong.crt", tls_pki.cert_pem(wrong_cert), 0o644)
    assert "does not match the certificate CN=other.example" in check_material(TlsSpec([], pairs=[(both, cert_file)])).problems[0]


def test_design_tls_becomes_parameters_before_the_comparison():
    instances = [
        {"name": "postfix-out", "parameters": {"myhostname": "out"}, "absent_parameters": [], "tls": {"chains": [{"chain_file": "/etc/postfix-out/a.pem"}]}},
        {"name": "postfix-gone", "state": "absent", "tls": {"chains": [{"chain_file": "/x.pem"}]}},
        {"name": "postfix-plain", "parameters": {}},
    ]
    specs = expand_tls(instances)
    assert list(specs) == ["postfix-out"] and specs["postfix-out"].files == ["/etc/postfix-out/a.pem"]
    assert instances[0]["parameters"] == {"myhostname": "out", "smtpd_tls_chain_files": "/etc/postfix-out/a.pem"}
    assert "smtpd_tls_cert_file" in instances[0]["absent_parameters"]
    assert instances[2] == {"name": "postfix-plain", "parameters": {}}
    with pytest.raises(PostfixMultiError, match=r"postfix_multi_instances\[0\] \(postfix-out\)\.tls\.chains\[0\]"):
        expand_tls([{"name": "postfix-out", "tls": {"chains": [{"key_file": "/k.pem"}]}}])
