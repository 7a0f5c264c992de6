# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the collection. It can have breaking changes at any time.
# Do not use it from other collections or roles.

"""TLS material of an instance, checked on the host before the configuration that uses it goes live.

The design's ``tls`` of an instance declares its server keys and certificate chains, one item per
algorithm: ``{chain_file}`` (key, then its certificate, then the issuers) or ``{key_file,
cert_file}``. :func:`tls_parameters` turns that into ``smtpd_tls_chain_files`` (postconf(5): the
files are read as if concatenated in the given order, so a key file is listed right before the
file with its certificate chain) and :func:`check_material` checks what smtpd(8) will load.

Where the daemons read the files: smtpd(8) loads its keys and certificates in its pre-jail
initialisation (smtpd.c ``pre_jail_init`` calls ``TLS_SERVER_INIT``), which the master server
skeleton runs before ``chroot_uid`` enters the chroot jail and drops privileges (multi_server.c);
TLS_README says the same of the CAfile ("opened (with root privileges) before Postfix enters the
optional chroot jail"). So the files count at their path on the host, read by root, whether the
service is chrooted or not; a copy under the queue directory (the jail) is never read, and the
check says so when it finds one there instead of the declared file. (The CApath directory is the
one thing TLS_README says is read inside the jail; the design does not declare it.)

What is checked, as tls_certkey.c loads the files: each file exists, is a regular file and can be
read; the concatenated PEM objects are key1, cert1, [chain1], key2, cert2, ... (a key first, each
key directly followed by its certificate); no key is encrypted (Postfix has no passphrase); each
key's public key is the one of the certificate after it; each further certificate of a chain is
the issuer of the one before it (leaf first); no certificate is expired or not yet valid. A
certificate that expires within ``expiry_warning_days`` is a warning, not a refusal.

Keys never leave this process except through ``openssl``'s standard input (never on a command
line), and nothing of a key is kept or returned: only the paths, the certificates' public facts
(subject, issuer, dates, SHA-256 fingerprint) and the reasons.
"""

from __future__ import annotations

import calendar
import os
import re
import shutil
import stat
import time
import typing as t
from dataclasses import dataclass, field

from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._interface import Interface
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _runner
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._facts import LocalFacts, find_postfix_command, parse_postconf_lines
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._info import select
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._paths import split_list
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Registry

# The design's tls of an instance (argument spec).
TLS_OPTIONS: dict[str, t.Any] = {
    "chains": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "chain_file": {"type": "path"},
            "key_file": {"type": "path"},
            "cert_file": {"type": "path"},
        },
    },
    "expiry_warning_days": {"type": "int", "default": 30},
    "security_level": {"type": "str", "choices": ["none", "may", "encrypt"]},
}
# The legacy per-algorithm parameters that smtpd_tls_chain_files replaces (postconf(5)); smtpd
# ignores them, with a warning, when smtpd_tls_chain_files is set, so a declared tls removes them.
LEGACY_PARAMETERS = (
    "smtpd_tls_cert_file",
    "smtpd_tls_key_file",
    "smtpd_tls_eccert_file",
    "smtpd_tls_eckey_file",
    "smtpd_tls_dcert_file",
    "smtpd_tls_dkey_file",
)
OWNED_PARAMETERS = ("smtpd_tls_chain_files", "smtpd_tls_security_level", *LEGACY_PARAMETERS)
DEFAULT_WARNING_DAYS = 30

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_KEY_TYPES = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY")
_ENCRYPTED = "ENCRYPTED PRIVATE KEY"
_CERT_TYPES = ("CERTIFICATE", "TRUSTED CERTIFICATE")


@dataclass
class TlsSpec:
    """A checked design ``tls``: the files in smtpd_tls_chain_files order. ``pairs`` are legacy
    (key file, certificate file) settings found in a main.cf (smtpd_tls_cert_file and the like):
    tls_certkey.c loads the first key of the key file and the certificate chain of the certificate
    file, in whatever order the objects come, and then checks that they match."""

    files: list[str]
    expiry_warning_days: int = DEFAULT_WARNING_DAYS
    security_level: str | None = None
    pairs: list[tuple[str, str]] = field(default_factory=list)

    def parameters(self) -> dict[str, str]:
        out = {"smtpd_tls_chain_files": ", ".join(self.files)}
        if self.security_level:
            out["smtpd_tls_security_level"] = self.security_level
        return out


def _path(where: str, value: t.Any) -> str:
    if not isinstance(value, str) or not value:
        raise PostfixMultiError(f"{where}: a file path is required")
    if not os.path.isabs(value):
        # master(8) runs the daemons in the queue directory: a relative name would be read from there
        raise PostfixMultiError(f"{where}: {value!r} must be an absolute path")
    if re.search(r"[\s,$]", value):
        # smtpd_tls_chain_files is a list separated by commas and/or whitespace, with $name expansion
        raise PostfixMultiError(f"{where}: {value!r} cannot be used in smtpd_tls_chain_files (no whitespace, comma or $ in the path)")
    return os.path.normpath(value)


def check_spec(where: str, tls: t.Mapping[str, t.Any] | None) -> TlsSpec | None:
    """The design's ``tls`` of an instance, checked (None: not declared); raises on bad input."""
    if tls is None:
        return None
    if not isinstance(tls, t.Mapping):
        raise PostfixMultiError(f"{where}.tls must be a mapping with chains (and expiry_warning_days, security_level)")
    chains = tls.get("chains")
    if not isinstance(chains, list) or not chains:
        raise PostfixMultiError(f"{where}.tls.chains: declare at least one {{chain_file}} or {{key_file, cert_file}}")
    files: list[str] = []
    for index, item in enumerate(chains):
        at = f"{where}.tls.chains[{index}]"
        item = {key: value for key, value in (item or {}).items() if value is not None} if isinstance(item, t.Mapping) else None
        if item is None:
            raise PostfixMultiError(f"{at}: each item is a mapping, {{chain_file}} or {{key_file, cert_file}}")
        if "chain_file" in item and not ({"key_file", "cert_file"} & set(item)):
            files.append(_path(f"{at}.chain_file", item["chain_file"]))
        elif set(item) == {"key_file", "cert_file"}:
            # the key's file directly before its certificate chain's file (postconf(5), smtpd_tls_chain_files)
            files += [_path(f"{at}.key_file", item["key_file"]), _path(f"{at}.cert_file", item["cert_file"])]
        else:
            raise PostfixMultiError(f"{at}: give either chain_file (key, certificate and chain in one file) or both key_file and cert_file, not {sorted(item)}")
    days = tls.get("expiry_warning_days")
    days = DEFAULT_WARNING_DAYS if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise PostfixMultiError(f"{where}.tls.expiry_warning_days must be a number of days (0 or more), not {days!r}")
    level = tls.get("security_level")
    if level is not None and level not in TLS_OPTIONS["security_level"]["choices"]:
        raise PostfixMultiError(f"{where}.tls.security_level must be one of none, may, encrypt, not {level!r}")
    return TlsSpec(files, days, level)


def merge_parameters(where: str, spec: TlsSpec, parameters: t.Mapping[str, t.Any], absent: t.Sequence[str]) -> tuple[dict[str, t.Any], list[str]]:
    """The instance's parameters and absent_parameters with the ones ``tls`` sets and removes;
    declaring the same parameters by hand as well is refused (which would win is not obvious)."""
    clash = sorted(set(OWNED_PARAMETERS) & (set(parameters) | set(absent)))
    clash = [name for name in clash if not (name == "smtpd_tls_security_level" and spec.security_level is None)]
    if clash:
        raise PostfixMultiError(f"{where}: {', '.join(clash)} come from tls; remove them from parameters/absent_parameters (or drop tls)")
    merged = dict(parameters)
    merged.update(spec.parameters())
    return merged, list(absent) + [name for name in LEGACY_PARAMETERS if name not in absent]


@dataclass
class Certificate:
    """The public facts of one certificate (nothing secret)."""

    file: str
    index: int  # PEM object number in its file, from 1 (as tls_certkey.c counts)
    subject: str
    issuer: str
    subject_hash: str
    issuer_hash: str
    not_before: float
    not_after: float
    fingerprint: str
    public_key: str

    def facts(self, now: float) -> dict[str, t.Any]:
        return {
            "file": self.file,
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.not_before)),
            "not_after": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.not_after)),
            "days_left": int((self.not_after - now) // 86400),
            "sha256_fingerprint": self.fingerprint,
        }


@dataclass
class Report:
    """The outcome of :func:`check_material`."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    chains: list[list[dict[str, t.Any]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, t.Any]:
        return {"ok": self.ok, "problems": list(self.problems), "warnings": list(self.warnings), "chains": self.chains}


def _openssl(argv: t.Sequence[str], pem: str, what: str) -> str:
    result = _runner.run([_openssl_command(), *argv], stdin=pem)
    if result.rc != 0:
        # openssl's reason names no key material (its input is never echoed)
        said = " ".join(result.stderr.split())[:300] or f"rc={result.rc}"
        raise PostfixMultiError(f"{what}: {said}")
    return result.stdout


def _openssl_command() -> str:
    found = shutil.which("openssl", path=os.environ.get("PATH", "") + ":/usr/bin:/bin")
    if not found:
        raise PostfixMultiError("cannot check TLS material: the openssl command is not installed on the host (Debian: apt install openssl)")
    return found


def _date(text: str) -> float:
    # "notAfter=Dec  6 01:35:00 2027 GMT" (openssl x509 -dates, in the C locale the runner sets)
    value = text.split("=", 1)[1].strip()
    return float(calendar.timegm(time.strptime(value, "%b %d %H:%M:%S %Y %Z")))


def _certificate(file: str, index: int, pem: str) -> Certificate:
    what = f"{file}: certificate (PEM object number {index}) cannot be read"
    out = _openssl(
        ["x509", "-noout", "-nameopt", "RFC2253", "-subject", "-issuer", "-subject_hash", "-issuer_hash", "-dates", "-fingerprint", "-sha256"], pem, what
    )
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    fields = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in lines
        if "=" in line and line.split("=", 1)[0] in ("subject", "issuer", "notBefore", "notAfter")
    }
    hashes = [line for line in lines if re.fullmatch(r"[0-9a-f]{8}", line)]
    fingerprint = next((line.split("=", 1)[1] for line in lines if "Fingerprint=" in line), "")
    if len(hashes) != 2 or not {"subject", "issuer", "notBefore", "notAfter"} <= set(fields):
        raise PostfixMultiError(f"{what}: unexpected openssl output")
    public = _openssl(["x509", "-noout", "-pubkey"], pem, what)
    return Certificate(
        file,
        index,
        fields["subject"].strip(),
        fields["issuer"].strip(),
        hashes[0],
        hashes[1],
        _date("notBefore=" + fields["notBefore"]),
        _date("notAfter=" + fields["notAfter"]),
        fingerprint,
        public.strip(),
    )


def _read(path: str, queue_directory: str | None) -> tuple[str | None, str | None, str | None]:
    """(text, problem, warning) of one declared file, read as smtpd reads it: by root, at its
    path on the host, before the chroot (see the module docstring)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        jailed = os.path.join(queue_directory, path.lstrip("/")) if queue_directory else None
        hint = ""
        if jailed and os.path.exists(jailed):
            hint = f" (a copy exists inside the chroot jail, {jailed}, but smtpd reads its keys and certificates before it enters the jail)"
        return None, f"{path}: does not exist{hint}", None
    except OSError as exc:
        return None, f"{path}: cannot be read: {exc.strerror}", None
    if not stat.S_ISREG(info.st_mode):
        return None, f"{path}: not a regular file", None
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        hint = f" (this check runs as uid {os.geteuid()}, smtpd reads it as root: run it with become)" if os.geteuid() != 0 else ""
        return None, f"{path}: cannot be read: {exc.strerror}{hint}", None
    warning = None
    if info.st_mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH) and b"PRIVATE KEY-----" in data:
        mode = oct(stat.S_IMODE(info.st_mode))[2:].zfill(4)
        warning = f"{path}: holds a private key but is readable or writable by others than its owner (mode {mode}); smtpd reads it as root, 0600 is enough"
    return data.decode("ascii", "replace"), None, warning


def _pem_objects(path: str, queue_directory: str | None, report: Report) -> list[tuple[str, int, str, str]] | None:
    """The PEM objects of one file as (file, number in file, PEM type, PEM text); None after a problem."""
    text, problem, warning = _read(path, queue_directory)
    if warning and warning not in report.warnings:
        report.warnings.append(warning)
    if problem or text is None:
        report.problems.append(problem or f"{path}: cannot be read")
        return None
    found = [(m.group(1), m.group(0)) for m in _PEM.finditer(text)]
    if not found:
        report.problems.append(f"{path}: no PEM data (Postfix reads keys and certificates in PEM format)")
        return None
    objects = []
    for number, (kind, pem) in enumerate(found, start=1):
        if kind == _ENCRYPTED or (kind in _KEY_TYPES and "ENCRYPTED" in pem.split("\n", 3)[1]):
            report.problems.append(f"{path}: the private key (PEM object number {number}) is encrypted; Postfix cannot use a key that needs a passphrase")
            kind = "ENCRYPTED"
        objects.append((path, number, kind, pem))
    return objects


Group = t.Tuple[t.Tuple[str, int, str], t.List[t.Tuple[str, int, str]]]


def _chain_groups(spec: TlsSpec, queue_directory: str | None, report: Report) -> list[Group]:
    """smtpd_tls_chain_files: the files read as one concatenation, key1, cert1, [chain1], key2 ..."""
    objects: list[tuple[str, int, str, str]] = []
    for path in spec.files:
        objects += _pem_objects(path, queue_directory, report) or []
    if report.problems:
        return []
    groups: list[Group] = []
    for path, number, kind, pem in objects:
        if kind in _KEY_TYPES:
            groups.append(((path, number, pem), []))
        elif kind in _CERT_TYPES:
            if not groups:
                report.problems.append(
                    f"{path}: certificate (PEM object number {number}) comes before any private key; "
                    "each key must come first, directly followed by its certificate"
                )
                return []
            groups[-1][1].append((path, number, pem))
        # other PEM types (parameters ...) are skipped by Postfix with a warning
    return groups


def _pair_groups(spec: TlsSpec, queue_directory: str | None, report: Report) -> list[Group]:
    """Legacy key and certificate files: the first key of the one, the certificates of the other."""
    groups: list[Group] = []
    for key_file, cert_file in spec.pairs:
        keys = [(path, number, pem) for path, number, kind, pem in _pem_objects(key_file, queue_directory, report) or [] if kind in _KEY_TYPES]
        certs = [(path, number, pem) for path, number, kind, pem in _pem_objects(cert_file, queue_directory, report) or [] if kind in _CERT_TYPES]
        if report.problems:
            continue
        if not keys:
            report.problems.append(f"{key_file}: no private key")
        elif not certs:
            report.problems.append(f"{cert_file}: no certificate")
        else:
            groups.append((keys[0], certs))
    return groups


def check_material(spec: TlsSpec, queue_directory: str | None = None, now: float | None = None) -> Report:
    """Check the files of ``spec`` as smtpd(8) will load them (read-only)."""
    now = time.time() if now is None else now
    report = Report()
    groups = _chain_groups(spec, queue_directory, report) + _pair_groups(spec, queue_directory, report)
    if report.problems:
        return report
    for (key_file, key_number, key_pem), certs in groups:
        if not certs:
            report.problems.append(f"{key_file}: no certificate follows the private key (PEM object number {key_number})")
            continue
        try:
            key_public = _openssl(["pkey", "-pubout"], key_pem, f"{key_file}: the private key (PEM object number {key_number}) cannot be read").strip()
            chain = [_certificate(path, number, pem) for path, number, pem in certs]
        except PostfixMultiError as exc:
            report.problems.append(exc.msg)
            continue
        report.chains.append([cert.facts(now) for cert in chain])
        leaf = chain[0]
        if leaf.public_key != key_public:
            later = next((cert for cert in chain[1:] if cert.public_key == key_public), None)
            if later is not None:
                report.problems.append(
                    f"{later.file}: the certificate for the key in {key_file} is PEM object number {later.index}, after {leaf.subject}; "
                    "the order must be key, its certificate (the leaf), then the issuers"
                )
            else:
                report.problems.append(
                    f"{key_file}: the private key (PEM object number {key_number}) does not match the certificate {leaf.subject} in {leaf.file}"
                )
            continue
        for lower, upper in zip(chain, chain[1:]):
            if lower.issuer_hash != upper.subject_hash:
                report.problems.append(
                    f"{upper.file}: chain out of order: {upper.subject} (PEM object number {upper.index}) does not issue "
                    f"{lower.subject} before it (issued by {lower.issuer}); list the issuers leaf first, each followed by its own issuer"
                )
                break
        for cert in chain:
            if cert.not_after <= now:
                report.problems.append(f"{cert.file}: the certificate {cert.subject} expired on {cert.facts(now)['not_after']}")
            elif cert.not_before > now:
                report.problems.append(f"{cert.file}: the certificate {cert.subject} is not valid before {cert.facts(now)['not_before']}")
            elif cert.not_after - now <= spec.expiry_warning_days * 86400:
                report.warnings.append(
                    f"{cert.file}: the certificate {cert.subject} expires on {cert.facts(now)['not_after']} (within {spec.expiry_warning_days} days)"
                )
    return report


# What an instance's main.cf says about its server keys and certificates (postconf(5)).
SERVER_PARAMETERS = ("smtpd_tls_chain_files", *LEGACY_PARAMETERS, "smtpd_tls_security_level")
_LEGACY_PAIRS = (
    ("smtpd_tls_cert_file", "smtpd_tls_key_file"),
    ("smtpd_tls_eccert_file", "smtpd_tls_eckey_file"),
    ("smtpd_tls_dcert_file", "smtpd_tls_dkey_file"),
)


def configured_spec(values: t.Mapping[str, str], expiry_warning_days: int = DEFAULT_WARNING_DAYS) -> TlsSpec | None:
    """The key and certificate files an instance's smtpd loads, from its expanded parameters
    (``postconf -x``); None when it has none. smtpd_tls_chain_files, when set, wins and the legacy
    parameters are ignored (smtpd.c); smtpd_tls_cert_file = none means no certificate."""
    chain_files = split_list(values.get("smtpd_tls_chain_files") or "")
    if chain_files:
        return TlsSpec(chain_files, expiry_warning_days, values.get("smtpd_tls_security_level") or None)
    pairs = []
    for cert_name, key_name in _LEGACY_PAIRS:
        cert_file = (values.get(cert_name) or "").strip()
        if not cert_file or (cert_name == "smtpd_tls_cert_file" and cert_file.lower() == "none"):
            continue
        pairs.append(((values.get(key_name) or "").strip() or cert_file, cert_file))
    if not pairs:
        return None
    return TlsSpec([], expiry_warning_days, values.get("smtpd_tls_security_level") or None, pairs)


def _instance_values(postconf: str, config_directory: str) -> dict[str, str]:
    result = _runner.run([postconf, "-c", config_directory, "-x", *SERVER_PARAMETERS])
    if result.rc != 0:
        raise PostfixMultiError(f"postconf -c {config_directory} failed (rc={result.rc}): {result.output}", **result.as_dict())
    return parse_postconf_lines(result.stdout)


def tls_info(options: t.Mapping[str, t.Any], check_mode: bool, want_diff: bool) -> dict[str, t.Any]:
    """The ``postfix_tls_info`` module: the TLS server material of the selected instances, as their
    main.cf names it, checked as smtpd(8) loads it; changes nothing."""
    days = options.get("expiry_warning_days")
    days = DEFAULT_WARNING_DAYS if days is None else int(days)
    if days < 0:
        raise PostfixMultiError(f"expiry_warning_days must be 0 or more, not {days}")
    facts = LocalFacts()
    reg = Registry.load(facts.defaults(), facts.read_text)
    postconf = find_postfix_command("postconf", facts.defaults().get("command_directory"))
    instances = []
    warnings = list(reg.problems)
    for inst in select(reg, name=options.get("name"), group=options.get("group")):
        values = _instance_values(postconf, inst.config_directory)
        spec = configured_spec(values, days)
        record: dict[str, t.Any] = {
            "name": inst.name,
            "config_directory": inst.config_directory,
            "security_level": values.get("smtpd_tls_security_level") or "",
            "configured": spec is not None,
            "files": (spec.files + [path for pair in spec.pairs for path in dict.fromkeys(pair)]) if spec else [],
        }
        record.update(check_material(spec, inst.queue_directory).as_dict() if spec else Report().as_dict())
        label = inst.name or inst.config_directory
        warnings += [f"{label}: {line}" for line in record["problems"] + record["warnings"]]
        instances.append(record)
    return {"changed": False, "ok": all(record["ok"] for record in instances), "instances": instances, "warnings": warnings}


TLS_INFO = Interface(
    {
        "argument_spec": {"name": {"type": "str"}, "group": {"type": "str"}, "expiry_warning_days": {"type": "int", "default": DEFAULT_WARNING_DAYS}},
        "mutually_exclusive": [["name", "group"]],
    },
    tls_info,
)
