# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This doc fragment is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

from __future__ import annotations


class ModuleDocFragment:
    # The declared design of a host, in the schema of the multi_instance role's variables
    # (postfix_multi_host converges to it, postfix_drift_info compares with it).
    DOCUMENTATION = r"""
options:
  instances:
    description:
      - The declared secondary instances, as the role's C(postfix_multi_instances), in start order.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Instance name, starting with V(postfix-).
        type: str
        required: true
      group:
        description: Instance group; omit to leave it alone, V('') to clear it.
        type: str
      enabled:
        description: Whether the instance should be enabled (and running, see O(start)).
        type: bool
        default: true
      state:
        description: V(present), V(absent) (destroyed) or V(deported).
        type: str
        choices: [present, absent, deported]
        default: present
      config_directory:
        description: Configuration directory; default the sibling of the primary's named after O(instances[].name).
        type: path
      queue_directory:
        description: Queue directory of a new instance.
        type: path
      data_directory:
        description: Data directory of a new instance.
        type: path
      position:
        description: Where a new instance goes in the start order.
        type: str
        choices: [first, last]
      before:
        description: Put a new instance just before this secondary instance.
        type: str
      before_group:
        description: Put a new instance just before the first instance of this group.
        type: str
      parameters:
        description: C(main.cf) parameters, as M(mailops.postfix_multi.postfix_config) takes them.
        type: dict
        default: {}
      absent_parameters:
        description: C(main.cf) parameters that must not be set.
        type: list
        elements: str
        default: []
      exclusive:
        description:
          - Whether every other parameter is to be removed (as M(mailops.postfix_multi.postfix_config) does).
          - Default V(false); with M(mailops.postfix_multi.postfix_multi_host) and its O(mailops.postfix_multi.postfix_multi_host#module:state=replaced),
            V(true).
        type: bool
      master:
        description: C(master.cf) entries, as M(mailops.postfix_multi.postfix_master) takes them.
        type: list
        elements: dict
        default: []
      maps:
        description:
          - Lookup tables of the instance, as M(mailops.postfix_multi.postfix_map) takes them (without its instance).
          - Checked with C(postmap) in a private directory before anything changes, built after the instance exists and
            before it is started or reloaded. A changed flat table (V(regexp), V(pcre), V(cidr), V(texthash)) reloads a
            running instance; indexed tables are picked up by the daemons themselves.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description:
              - The table's file, relative to the instance's configuration directory (V(virtual)).
              - Its directory must be a real, existing directory of the instance (not a symbolic link); blanks, other
                whitespace, control characters and commas are refused (C(main.cf) could not reference the table).
            type: str
            required: true
          type:
            description: The table type; omitted, the instance's C(default_database_type).
            type: str
            choices: [hash, btree, lmdb, cdb, texthash, regexp, pcre, cidr]
          entries:
            description: The table as a mapping, or a list of C({key, value}) (required for regexp, pcre, cidr).
            type: raw
          content:
            description: The table's text (instead of O(instances[].maps[].entries)); a NUL byte is refused.
            type: str
          state:
            description: V(absent) removes the table and its index.
            type: str
            choices: [present, absent]
            default: present
          aliases:
            description: An C(aliases(5)) table, indexed with C(postalias).
            type: bool
            default: false
          secret:
            description: Hide the values in diffs and results; default true for names containing C(passw) or C(secret).
            type: bool
          mode:
            description:
              - Octal mode of the table and its index, as a quoted string (V('0644')). An integer is the mode's number, as
                M(ansible.builtin.file) takes it (an unquoted C(0644) is V('0644'); an unquoted C(644) is decimal, and
                refused). Only V('0644') and stricter read and write modes are taken (no execute, setuid, setgid or
                sticky bits), as by O(mailops.postfix_multi.postfix_map#module:mode).
            type: raw
      move_mail_to:
        description:
          - With O(instances[].state=absent) or O(instances[].state=deported), the sibling instance of this host that
            takes the instance's queued mail first, as O(mailops.postfix_multi.postfix_instance#module:move_mail_to) of
            M(mailops.postfix_multi.postfix_instance) moves it (requeued through the sibling's C(maildrop), held mail
            stays held, mail that cannot be requeued is kept and reported); the instance is then destroyed or deported
            in the same run instead of waiting for its queue to drain.
          - The sibling must exist on the host before the run and stay in the design. Check mode lists what would move.
        type: str
      tls:
        description:
          - The TLS server keys and certificate chains of the instance, one item of O(instances[].tls.chains) per key
            algorithm; set as C(smtpd_tls_chain_files) (Postfix 3.4 or later), and the legacy C(smtpd_tls_cert_file),
            C(smtpd_tls_key_file), C(smtpd_tls_eccert_file), C(smtpd_tls_eckey_file), C(smtpd_tls_dcert_file) and
            C(smtpd_tls_dkey_file) are removed from its C(main.cf). These parameters cannot be declared in
            O(instances[].parameters) as well.
          - Before an instance is created or its configuration changes, its files are checked as C(smtpd) loads them,
            in check mode too. C(smtpd) reads them with root privileges before it enters its chroot jail, so each file
            counts at its path on the host (a copy under the queue directory is never read). Each file must exist and be
            readable, the PEM objects must come as key, its certificate, then the issuers leaf first, the key must not be
            encrypted and must match the certificate, and no certificate may be expired or not yet valid. A failing
            check changes nothing and names the file and the reason.
          - A certificate that expires within O(instances[].tls.expiry_warning_days) days is a warning. A key file that
            others than its owner can read is a warning. Nothing of a key is ever shown or returned.
          - Only the paths are compared with the host; a certificate renewed in place is not a change (reload the
            instance with M(mailops.postfix_multi.postfix_service)).
        type: dict
        suboptions:
          chains:
            description:
              - The keys and their chains, in the order C(smtpd_tls_chain_files) lists them (at most one key per
                algorithm, for example an RSA and an ECDSA key).
              - Each item is either O(instances[].tls.chains[].chain_file) or both O(instances[].tls.chains[].key_file)
                and O(instances[].tls.chains[].cert_file). Absolute paths, without whitespace, commas or C($).
            type: list
            elements: dict
            required: true
            suboptions:
              chain_file:
                description: One file with the private key, then its certificate, then the issuer certificates.
                type: path
              key_file:
                description: The private key alone; listed right before O(instances[].tls.chains[].cert_file).
                type: path
              cert_file:
                description: The certificate of O(instances[].tls.chains[].key_file), followed by its issuers.
                type: path
          expiry_warning_days:
            description: Warn when a certificate expires within this many days.
            type: int
            default: 30
          security_level:
            description: Also set C(smtpd_tls_security_level); omitted, it is left as it is.
            type: str
            choices: [none, may, encrypt]
      logging:
        description:
          - Where the instance logs. Omit to leave its logging alone.
          - Expanded to C(main.cf) parameters and a C(master.cf) entry before the design is planned, so it is compared,
            validated, shown in check mode and diff and applied like them. O(instances[].parameters) and
            O(instances[].absent_parameters) must then not name C(syslog_name) or C(maillog_file).
          - V(syslog) removes C(maillog_file) and sets C(syslog_name) (removed when O(instances[].logging.syslog_name) is
            omitted, so that Postfix's default applies, the instance's name - lines read C(postfix-out/smtpd[...])).
          - V(file) sets C(maillog_file) and makes sure the instance's C(master.cf) has the C(postlog) service (as
            Postfix's stock C(master.cf) has it since 3.4), whose C(postlogd) appends to the file.
          - Going back from V(file) to V(syslog) removes C(maillog_file) only; the log file is never removed.
          - Refused before anything changes - a file that does not start with one of the instance's
            C(maillog_file_prefixes) (declare that parameter to allow another directory; default C(/var, /dev/stdout)),
            C(/dev/stdout) (needs C(postfix start-fg)), a file whose directory does not exist, two instances writing one
            file or logging under one C(syslog_name).
        type: dict
        suboptions:
          to:
            description: V(syslog) (through the host's C(syslogd) or journal) or V(file) (C(postlogd)).
            type: str
            choices: [syslog, file]
            required: true
          syslog_name:
            description:
              - The name every log line of the instance starts with (C(NAME/smtpd[PID]:)), in syslog and in the file.
              - Omitted, Postfix's default, the instance's name (C(postfix) for the primary).
            type: str
          file:
            description: With V(file), the log file's absolute path, such as C(/var/log/postfix-out.log).
            type: path
  primary_parameters:
    description: C(main.cf) parameters of the primary instance.
    type: dict
    default: {}
  primary_absent_parameters:
    description: C(main.cf) parameters the primary instance must not set.
    type: list
    elements: str
    default: []
  primary_maps:
    description: Lookup tables of the primary instance, as O(instances[].maps).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The table's file, relative to the instance's configuration directory (V(virtual)).
        type: str
        required: true
      type:
        description: The table type; omitted, the instance's C(default_database_type).
        type: str
        choices: [hash, btree, lmdb, cdb, texthash, regexp, pcre, cidr]
      entries:
        description: The table as a mapping, or a list of C({key, value}) (required for regexp, pcre, cidr).
        type: raw
      content:
        description: The table's text (instead of O(primary_maps[].entries)).
        type: str
      state:
        description: V(absent) removes the table and its index.
        type: str
        choices: [present, absent]
        default: present
      aliases:
        description: An C(aliases(5)) table, indexed with C(postalias).
        type: bool
        default: false
      secret:
        description: Hide the values in diffs and results; default true for names containing C(passw) or C(secret).
        type: bool
      mode:
        description:
          - Octal mode of the table and its index, as O(instances[].maps[].mode).
        type: raw
  primary_logging:
    description:
      - Where the primary instance logs, as O(instances[].logging). Omit to leave it alone.
      - With V(file), the C(postlog) entry is added to the primary's C(master.cf) where it is missing.
    type: dict
    suboptions:
      to:
        description: V(syslog) or V(file).
        type: str
        choices: [syslog, file]
        required: true
      syslog_name:
        description: The name every log line of the primary starts with; omitted, C(postfix).
        type: str
      file:
        description: With V(file), the log file's absolute path, such as C(/var/log/postfix.log).
        type: path
"""
