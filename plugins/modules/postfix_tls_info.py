#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_tls_info
short_description: Check the TLS keys and certificates of each Postfix instance as its SMTP server loads them
version_added: 1.0.0
description:
  - For each selected instance, reads which key and certificate files its SMTP server loads (C(smtpd_tls_chain_files),
    or the legacy C(smtpd_tls_cert_file) and C(smtpd_tls_key_file), C(smtpd_tls_eccert_file) and
    C(smtpd_tls_eckey_file), C(smtpd_tls_dcert_file) and C(smtpd_tls_dkey_file), as C(postconf -x) expands them) and
    checks them as C(smtpd) loads them, the same check M(mailops.postfix_multi.postfix_multi_host) makes before a
    declared O(mailops.postfix_multi.postfix_multi_host#module:instances[].tls) goes live.
  - C(smtpd) reads its keys and certificates with root privileges before it enters its chroot jail, so each file counts
    at its path on the host. Each file must exist and be readable; in C(smtpd_tls_chain_files) the PEM objects must
    come as key, its certificate, then the issuers leaf first; no key may be encrypted; each key must match its
    certificate; no certificate may be expired or not yet valid.
  - A certificate that expires within O(expiry_warning_days) days, and a key file that others than its owner can read,
    are warnings. Problems and warnings are returned per instance and also shown as warnings; the module does not fail
    because of them (see the examples to make a play fail).
  - Meant for day-to-day checks, for example after certificates were renewed in place, which
    M(mailops.postfix_multi.postfix_multi_host) does not see as a change.
  - Never changes anything. Nothing of a key is ever returned; certificates are described by their subject, issuer,
    dates and SHA-256 fingerprint.
author:
  - mailops.postfix_multi maintainers (@mailops)
extends_documentation_fragment:
  - mailops.postfix_multi._attributes
  - mailops.postfix_multi._attributes.idempotent
  - mailops.postfix_multi._attributes.info_module
  - mailops.postfix_multi._selection
options:
  expiry_warning_days:
    description: Warn when a certificate expires within this many days.
    type: int
    default: 30
requirements:
  - Postfix on the managed host. The module runs C(postconf -d), C(postconf -x) per instance, and C(openssl) (the
    key material goes to C(openssl) through a pipe, never on a command line).
  - The C(openssl) command on the managed host. Debian 11 and 12 have it with Postfix; on Debian 13 install the
    C(openssl) package. The same holds for O(mailops.postfix_multi.postfix_multi_host#module:instances[].tls).
notes:
  - Only the SMTP server's own keys and certificates are checked, not the C(smtp_tls_*) client ones, the CA files, or
    C(smtpd_tls_CApath) (read inside the jail when a client certificate is verified).
seealso:
  - module: mailops.postfix_multi.postfix_multi_host
  - module: mailops.postfix_multi.postfix_instance_info
  - name: TLS_README
    description: Postfix TLS support, including where the SMTP server reads its keys and certificates.
    link: https://www.postfix.org/TLS_README.html
  - name: smtpd_tls_chain_files
    description: The order of keys and certificates Postfix wants.
    link: https://www.postfix.org/postconf.5.html#smtpd_tls_chain_files
"""

EXAMPLES = r"""
---
- name: Check the TLS material of every instance
  mailops.postfix_multi.postfix_tls_info:
    expiry_warning_days: 21
  register: tls

- name: Fail when an instance's key or certificate would not load or has expired
  ansible.builtin.assert:
    that: tls.ok
    fail_msg: "{{ tls.instances | map(attribute='problems') | flatten | join('; ') }}"

- name: Check only postfix-out
  mailops.postfix_multi.postfix_tls_info:
    name: postfix-out
"""

RETURN = r"""
ok:
  description: Whether no selected instance has a problem (warnings do not count).
  returned: success
  type: bool
  sample: true
instances:
  description: The selected instances in start order, primary first.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The instance's name (C(multi_instance_name)); V(null) for the primary and nameless instances.
      type: str
      sample: postfix-out
    config_directory:
      description: The instance's configuration directory.
      type: str
      sample: /etc/postfix-out
    security_level:
      description: Its C(smtpd_tls_security_level).
      type: str
      sample: may
    configured:
      description: Whether it names any server key and certificate.
      type: bool
      sample: true
    files:
      description: The files its SMTP server loads, in the order it loads them.
      type: list
      elements: str
      sample: [/etc/postfix-out/tls/ecdsa.pem, /etc/postfix-out/tls/rsa.pem]
    ok:
      description: Whether the files would load (no problem).
      type: bool
      sample: true
    problems:
      description: Why they would not, each naming its file.
      type: list
      elements: str
      sample: ["/etc/postfix-out/tls/rsa.pem: the certificate CN=mx.example.com expired on 2026-11-30T12:00:00Z"]
    warnings:
      description: Certificates that expire soon and keys that others than their owner can read, each naming its file.
      type: list
      elements: str
      sample: []
    chains:
      description: Per key, its certificate and the issuers that follow it.
      type: list
      elements: list
      sample:
        - - file: /etc/postfix-out/tls/ecdsa.pem
            subject: CN=mx.example.com
            issuer: CN=Example Intermediate CA
            not_before: "2026-09-01T00:00:00Z"
            not_after: "2026-11-30T00:00:00Z"
            days_left: 54
            sha256_fingerprint: "3A:5F:..."
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._tls import TLS_INFO
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run


def main() -> None:
    run(TLS_INFO)


if __name__ == "__main__":
    main()
