#!/usr/bin/python
# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_map
short_description: Manage a lookup table of one Postfix instance, indexed with the instance's own postmap or postalias
version_added: 1.0.0
description:
  - Writes a lookup table (C(virtual), C(generic), C(transport), C(sender_canonical), access maps, C(sasl_passwd),
    C(aliases) ...) into the configuration directory of the primary or of one secondary Postfix instance, and builds its
    index with C(postmap -c DIR) (C(postalias -c DIR) with O(aliases=true)), so that the instance's own C(main.cf) is used.
  - The table is given as O(entries) or as the file's O(content).
  - "Indexed types - V(hash), V(btree), V(lmdb), V(cdb), whichever C(postconf -m) lists on the host - get an index beside
    the source (C(NAME.db), C(NAME.lmdb), C(NAME.cdb)). Without O(type), the instance's C(default_database_type) is used
    (C(postconf -c DIR -h default_database_type)): Postfix builds without Berkeley DB use V(lmdb) or V(cdb), and the
    module never assumes V(hash)."
  - "Flat types - V(texthash), V(regexp), V(pcre), V(cidr) - are files that the daemons read themselves; no index is
    built. V(inline) tables are not files: write them into C(main.cf) with M(mailops.postfix_multi.postfix_config)."
  - The index is built only when the source changes, or when the index is missing, older than its source (what Postfix
    warns about as C(database ... is older than source file)), or of another type (a V(hash) file where V(btree) is
    asked for). Nothing else rebuilds it, so the index keeps its modification time when nothing changed.
  - The daemons never see a half-built table. The new source is written to a temporary name beside the table, the index
    is built from it, renamed over the live index, and only then the source is renamed over the live source.
  - Every warning of C(postmap) or C(postalias) while it reads the new table fails the task before the live table is
    touched. Examples are a line without a value, a key given twice, or a regular expression that does not compile.
    For flat types the check is a C(postmap -q) lookup on the new file, which makes Postfix read every line.
  - An existing table keeps its owner and mode; the index gets the same owner and mode. A new one is owned by
    C(root) (as C(postfix check) expects for the files of a configuration directory), mode V(0644), or V(0600) for a
    secret table.
author:
  - mailops.postfix_multi maintainers (@mailops)
extends_documentation_fragment:
  - mailops.postfix_multi._attributes
  - mailops.postfix_multi._attributes.idempotent
attributes:
  check_mode:
    support: full
    details:
      - Check mode builds the new table in a private temporary directory with the instance's C(postmap), and fails where
        a real run would. Nothing is written beside the live table.
  diff_mode:
    support: full
    details:
      - The diff is the table's source text. For a secret table (O(secret)) every value is shown as C(VALUE_HIDDEN).
  idempotent:
    support: full
options:
  instance:
    description:
      - The instance whose table this is, selected as C(postmulti -i) selects it, from the primary's instance list.
      - An instance name (V(postfix-out)), a name without V(postfix-) (V(out)), a configuration directory
        (V(/etc/postfix-out), compared as written), or V(-) for the primary.
    type: str
    default: '-'
  name:
    description:
      - The table's source file, relative to the instance's configuration directory, such as V(virtual) or
        V(sasl/sasl_passwd). The directory must exist and be a real directory. C(..) is refused, as is a subdirectory
        that is a symbolic link or a path that leads outside the configuration directory through one. This is checked
        when the table is planned, so check mode fails as the real run does, before anything is written.
      - A name with blanks, other whitespace, control characters (a newline) or commas is refused, because C(main.cf)
        could never reference it (Postfix splits a list of tables at blanks and commas).
      - Reference it in C(main.cf) as C(TYPE:$config_directory/NAME), such as C(hash:$config_directory/virtual).
    type: str
    required: true
  type:
    description:
      - The table type. Omitted, the instance's C(default_database_type).
      - A type that C(postconf -m) does not list on the host is refused.
    type: str
    choices: [hash, btree, lmdb, cdb, texthash, regexp, pcre, cidr]
  entries:
    description:
      - The table as keys and values.
      - "A mapping (C(key: value)), or a list of mappings with exactly the keys C(key) and C(value), written in that order.
        V(regexp), V(pcre) and V(cidr) tables take only the list, because the first matching pattern wins."
      - "Each entry becomes one line, C(KEY VALUE) (C(KEY: VALUE) for O(aliases=true)). A value that is a list is written
        comma-separated. Keys without blanks (patterns of ordered types may contain them), values on one line, no key
        given twice, no NUL byte in a key or a value (Postfix reads each line as a C string and would drop the rest)."
      - Mutually exclusive with O(content); one of them is required with O(state=present).
    type: raw
  content:
    description:
      - The table's text, as it is written (a final newline is added when missing). Comments and continuation lines are
        kept.
      - Text with a NUL byte is refused. C(postmap) and the daemons read each line as a C string and would silently drop
        the rest of the line (C(a b<NUL>c) would be stored as C(a b)).
      - Mutually exclusive with O(entries).
    type: str
  aliases:
    description:
      - "The table is an C(aliases(5)) file (C(name: value) lines), indexed with C(postalias) instead of C(postmap)."
    type: bool
    default: false
  state:
    description:
      - V(absent) removes the source and its index (the index first). Remove the reference from C(main.cf) first.
    type: str
    choices: [present, absent]
    default: present
  mode:
    description:
      - The mode of the source and the index. Give it as a quoted octal string, such as V('0644') or V('0600').
      - "An integer is taken as the mode's number, as M(ansible.builtin.file) takes it: an unquoted C(mode: 0644) is
        the YAML octal number 420 and means V('0644'). An unquoted C(mode: 644) is the decimal number 644, which is
        octal C(1204) and no table mode. An integer that is not one of the modes below is refused, and the message says
        how the integer was read and which quoted string to write instead."
      - "Only the modes of a lookup table are taken: read for the owner, write for the owner, read for group and others
        (V('0644'), V('0640'), V('0600'), V('0444'), V('0440'), V('0400')). Refused are modes that let group or others
        write (C(postfix check) warns about them), the setuid, setgid and sticky bits (such as V('04644')), execute
        bits, and modes without read for the owner."
      - Omitted, an existing table keeps its mode.
    type: raw
  secret:
    description:
      - The values are secrets (passwords). The diff and the messages show the keys only, with every value as
        C(VALUE_HIDDEN). A new table is created with mode V(0600).
      - Omitted, a table whose file name contains C(passw) or C(secret) (C(sasl_passwd)) is secret.
      - "The values are hidden in everything the module returns, including the arguments Ansible shows with C(-vvv)
        (C(invocation)). Ansible itself also logs a module's arguments to the managed host's system log before the
        module runs; set C(no_log: true) on the task to keep the values out of that log as well."
    type: bool
requirements:
  - Postfix on the managed host (C(postconf), C(postmap) and C(postalias) in its C(command_directory)).
notes:
  - "Reload: a daemon notices a new index by itself and starts again after its current request. A changed flat
    table (V(texthash), V(regexp), V(pcre), V(cidr)) is read only when the daemons start, so RV(reload_required) is
    true and a running instance needs C(postfix reload)."
  - The lock that M(mailops.postfix_multi.postfix_config) takes on the primary's configuration directory is held
    while the table is planned and written.
seealso:
  - module: mailops.postfix_multi.postfix_config
  - module: mailops.postfix_multi.postfix_service
  - name: postmap(1)
    description: The Postfix lookup table management utility.
    link: https://www.postfix.org/postmap.1.html
  - name: postalias(1)
    description: The Postfix alias database maintenance utility.
    link: https://www.postfix.org/postalias.1.html
  - name: DATABASE_README
    description: Postfix lookup table overview.
    link: https://www.postfix.org/DATABASE_README.html
"""

EXAMPLES = r"""
---
- name: Virtual aliases of postfix-in, indexed with its default_database_type
  mailops.postfix_multi.postfix_map:
    instance: postfix-in
    name: virtual
    entries:
      postmaster@example.com: root
      info@example.com: [alice, bob]

- name: The relay host's password for postfix-out (values hidden in diffs; keep them out of Ansible's logs too)
  mailops.postfix_multi.postfix_map:
    instance: postfix-out
    name: sasl_passwd
    type: hash
    entries:
      "[mail.isp.example]:587": "username:{{ isp_password }}"
  no_log: true

- name: Header checks of the primary, in order
  mailops.postfix_multi.postfix_map:
    name: header_checks
    type: regexp
    entries:
      - key: /^Subject:.*viagra/i
        value: REJECT
      - key: /^X-Mailer:.*spam/
        value: DISCARD
  register: checks

- name: Reload the primary when a flat table changed
  mailops.postfix_multi.postfix_service:
    name: "-"
    state: reloaded
  when: checks.reload_required

- name: The aliases of postfix-in (postalias)
  mailops.postfix_multi.postfix_map:
    instance: in
    name: aliases
    aliases: true
    content: |
      postmaster: root
      root: admin@example.com
"""

RETURN = r"""
instance:
  description:
    - The instance, as C(postmulti -l) knows it.
    - "The keys are those of RV(mailops.postfix_multi.postfix_instance_info#module:instances) that describe an instance:
      C(name), C(group), C(enabled), C(primary), C(config_directory), C(queue_directory) and C(data_directory)."
  returned: success
  type: dict
  sample:
    name: postfix-in
    group: mta
    enabled: true
    primary: false
    config_directory: /etc/postfix-in
    queue_directory: /var/spool/postfix-in
    data_directory: /var/lib/postfix-in
name:
  description: The table's name, as given.
  returned: success
  type: str
  sample: virtual
path:
  description: The table's source file.
  returned: success
  type: str
  sample: /etc/postfix-in/virtual
type:
  description: The table type used (O(type), or the instance's C(default_database_type)).
  returned: success
  type: str
  sample: hash
index:
  description: The index file; null for flat types.
  returned: success
  type: str
  sample: /etc/postfix-in/virtual.db
state:
  description: O(state).
  returned: success
  type: str
  sample: present
rebuilt:
  description: Whether the index was (in check mode, would be) built.
  returned: success
  type: bool
  sample: true
reason:
  description:
    - Why the table changed - V(create), V(source changed), V(mode changed), V(index missing),
      V(index older than its source), V(index is not a TYPE file), V(remove) - or V(up to date) and V(absent).
  returned: success
  type: str
  sample: source changed
changed_keys:
  description: The keys whose line was added, changed or removed.
  returned: success
  type: list
  elements: str
  sample: [info@example.com]
reload_required:
  description:
    - Whether a running instance must be reloaded (C(postfix reload)) to use the change. True when a flat table changed.
      An indexed table is picked up by the daemons themselves.
  returned: success
  type: bool
  sample: false
secret:
  description: Whether the values were hidden (O(secret)).
  returned: success
  type: bool
  sample: false
msg:
  description: What was done, for humans.
  returned: always
  type: str
  sample: "postfix-in: source changed: virtual (hash)"
diff:
  description: The table's source text before and after, values hidden for a secret table.
  returned: when diff mode is on
  type: dict
  sample:
    before_header: /etc/postfix-in/virtual (hash)
    after_header: /etc/postfix-in/virtual (hash)
    before: "postmaster@example.com root\n"
    after: "postmaster@example.com root\ninfo@example.com alice, bob\n"
"""

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core import _zipload  # noqa: F401 # pylint: disable=unused-import
from ansible_collections.mailops.postfix_multi.plugins.module_utils._module import run
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._maps import MAP


def main() -> None:
    run(MAP)


if __name__ == "__main__":
    main()
