# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The systemd decisions of postfix_service, read from the unit files Debian 11, 12 and 13 really ship
(fixtures/systemd); tests/integration/test_systemd_hosts.py runs the same code on booted hosts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._systemd import (
    Packaging,
    boot_commands,
    choose_backend,
    escape,
    expected_wants,
    needs_daemon_reload,
    plan_boot,
    read_packaging,
    release_unit,
    stale_masks,
    starts_at_boot,
    translate,
    unit_for,
    unit_settings,
)
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import Instance
from hypothesis import given
from hypothesis import strategies as st

UNITS = Path(__file__).resolve().parent / "fixtures" / "systemd"


def packaging_of(release: str) -> Packaging:
    folder = UNITS / release
    return read_packaging(
        (folder / "postfix@.service").read_text(),
        (folder / "postfix.service").read_text(),
        (folder / "postfix-instance-generator").exists(),
        "/lib/systemd/system/postfix@.service",
    )


DEBIAN11, DEBIAN12, DEBIAN13 = packaging_of("debian11"), packaging_of("debian12"), packaging_of("debian13")


def inst(name: str | None, directory: str | None = None, primary: bool = False, enabled: bool = True) -> Instance:
    short = (name or "x").replace("postfix-", "")
    conf = directory or ("/etc/postfix" if primary else f"/etc/postfix-{short}")
    return Instance(conf, f"/var/spool/postfix-{short}", f"/var/lib/postfix-{short}", name=name, primary=primary, enabled=enabled)


# ------------------------------------------------------------------------------- the packaging
def test_debian_11_and_12_name_units_after_postmulti_names() -> None:
    for packaging in (DEBIAN11, DEBIAN12):
        assert packaging.by == "name"
        assert packaging.primary_unit == "postfix@-.service"  # postfix.service only runs /bin/true
        assert packaging.generator is True


def test_debian_13_names_units_after_directories() -> None:
    assert DEBIAN13.by == "directory"
    assert (DEBIAN13.prefix, DEBIAN13.suffix, DEBIAN13.unescaped) == ("/etc/postfix-", "", True)
    assert DEBIAN13.primary_unit == "postfix.service"
    assert DEBIAN13.generator is False


def test_no_template_no_systemd_path() -> None:
    assert read_packaging(None, "[Service]\nExecStart=/usr/sbin/postfix start\n", False).by is None
    unusable = "[Service]\nExecStart=/usr/sbin/postfix start\n"  # nothing ties %i to an instance
    assert read_packaging(unusable, None, False).by is None
    with pytest.raises(PostfixMultiError, match="no usable postfix@.service"):
        choose_backend("systemd", True, Packaging(None, None))


def test_other_spellings_of_the_same_schemes() -> None:
    by_c = read_packaging("[Service]\nExecStart=/usr/sbin/postfix -c /srv/mail/%i start\n", None, False)
    assert (by_c.by, by_c.prefix, by_c.suffix, by_c.unescaped) == ("directory", "/srv/mail/", "", False)
    quoted = read_packaging('[Service]\nEnvironment="MAIL_CONFIG=/etc/postfix-%I"\n', None, False)
    assert (quoted.by, quoted.prefix) == ("directory", "/etc/postfix-")
    continued = read_packaging("[Service]\nExecStart=/usr/sbin/postmulti \\\n  -i %i -p start\n", None, True)
    assert continued.by == "name" and continued.generator
    commented = read_packaging("[Service]\n# ExecStart=/usr/sbin/postmulti -i %i -p start\n;Environment=MAIL_CONFIG=/etc/postfix-%I\n", None, False)
    assert commented.by is None


def test_unit_settings_follow_systemd_syntax() -> None:
    text = "[Unit]\n# c\n; c\nDescription=x \\\n  y\n\n[Service]\nExecStart=/bin/true\n"
    assert [(key, value.split()) for key, value in unit_settings(text)] == [("Description", ["x", "y"]), ("ExecStart", ["/bin/true"])]


@pytest.mark.parametrize(
    ("use", "booted", "packaging", "expected"),
    [
        ("auto", True, DEBIAN12, "systemd"),
        ("auto", True, DEBIAN13, "systemd"),
        ("auto", True, Packaging(None, None), "postmulti"),
        ("auto", False, DEBIAN12, "postmulti"),
        ("postmulti", True, DEBIAN13, "postmulti"),
        ("systemd", True, DEBIAN11, "systemd"),
    ],
)
def test_choose_backend(use: str, booted: bool, packaging: Packaging, expected: str) -> None:
    assert choose_backend(use, booted, packaging) == expected


def test_forced_systemd_fails_where_unavailable() -> None:
    with pytest.raises(PostfixMultiError, match="not running as PID 1"):
        choose_backend("systemd", False, DEBIAN12)
    with pytest.raises(PostfixMultiError, match="use must be"):
        choose_backend("upstart", True, DEBIAN12)


# ------------------------------------------------------------------------------- unit names
def test_unit_names_debian_11_12() -> None:
    for packaging in (DEBIAN11, DEBIAN12):
        assert unit_for(inst(None, primary=True), packaging) == "postfix@-.service"
        assert unit_for(inst("postfix-main", primary=True), packaging) == "postfix@-.service"  # %i '-' selects the primary
        assert unit_for(inst("postfix-out"), packaging) == "postfix@postfix-out.service"
        assert unit_for(inst("postfix-a.b_c:d"), packaging) == "postfix@postfix-a.b_c:d.service"
        assert unit_for(inst(None), packaging) is None  # nameless: the generator's postfix@.service is unusable
        for unsafe in ("postfix-a!b", "postfix-a@b", "postfix-a%b", "postfix-a=b", "postfix-a+b"):
            assert unit_for(inst(unsafe), packaging) is None  # systemd would escape it and postmulti -i would not match


def test_unit_names_debian_13() -> None:
    assert unit_for(inst(None, primary=True), DEBIAN13) == "postfix.service"
    assert unit_for(inst("postfix-out"), DEBIAN13) == "postfix@out.service"
    # the name does not matter, only the directory (README.Debian of Debian 13)
    assert unit_for(inst("mx-in", "/etc/postfix-in"), DEBIAN13) == "postfix@in.service"
    assert unit_for(inst(None, "/etc/postfix-nameless"), DEBIAN13) == "postfix@nameless.service"
    # %I undoes systemd's escaping: a '-' must travel as \x2d, or it would become '/'
    assert unit_for(inst("postfix-out-2"), DEBIAN13) == "postfix@out\\x2d2.service"
    assert unit_for(inst("postfix-out", "/etc/postfix-out/"), DEBIAN13) == "postfix@out.service"
    for outside in ("/etc/postfix/out", "/srv/postfix-out", "/etc/postfix-", "/etc/postfixout"):
        assert unit_for(inst("postfix-out", outside), DEBIAN13) is None


@pytest.mark.skipif(shutil.which("systemd-escape") is None, reason="needs systemd-escape")
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12))
def test_escape_matches_systemd_escape(text: str) -> None:
    real = _systemd_escape(text)
    assert escape(text) == real
    # what %I hands to the unit: the original text again
    assert _systemd_escape(real, "--unescape") == text


def _systemd_escape(text: str, *flags: str) -> str:
    out = subprocess.run(["systemd-escape", *flags, "--", text], capture_output=True, check=True).stdout
    return out.decode("utf-8", errors="surrogateescape")[:-1]  # bytes as printed, less the newline


def test_escape_examples() -> None:
    assert escape("out-2") == "out\\x2d2"
    assert escape("a b/c") == "a\\x20b-c"
    assert escape(".x") == "\\x2ex"
    assert _systemd_escape("out\\x2d2", "--unescape") == "out-2"  # %I of postfix@out\x2d2: /etc/postfix-out-2
    assert _systemd_escape("out-2", "--unescape") == "out/2"  # why an unescaped '-' cannot be used


# ------------------------------------------------------------------------------- the generator
def test_expected_wants_mirror_the_generator() -> None:
    assert expected_wants([]) == ["postfix@-.service"]
    assert expected_wants(["postfix-out", None, "postfix-in"]) == [
        "postfix@-.service",
        "postfix@postfix-out.service",
        "postfix@.service",
        "postfix@postfix-in.service",
    ]


def test_needs_daemon_reload() -> None:
    current = expected_wants(["postfix-out"])
    assert needs_daemon_reload(current, list(reversed(current))) is False
    assert needs_daemon_reload(current, ["postfix@-.service"]) is True  # instance added
    assert needs_daemon_reload(["postfix@-.service"], current) is True  # instance removed
    assert needs_daemon_reload(expected_wants(["postfix-new"]), current) is True  # renamed
    assert needs_daemon_reload(current, None) is True  # never generated


# ------------------------------------------------------------------------------- actions
@pytest.mark.parametrize(
    ("action", "unit", "active", "running", "via", "verb"),
    [
        ("start", "postfix@-.service", False, False, "systemd", "start"),
        ("start", "postfix@-.service", True, False, "systemd", "restart"),  # stale unit
        ("stop", "postfix@-.service", True, True, "systemd", "stop"),
        ("stop", "postfix@-.service", False, True, "postfix", "stop"),  # started by hand
        ("reload", "postfix@x.service", True, True, "systemd", "reload"),
        ("reload", "postfix@x.service", False, True, "postfix", "reload"),
        ("check", "postfix@x.service", True, True, "postfix", "check"),
        ("flush", "postfix@x.service", True, True, "postfix", "flush"),
        ("start", None, False, False, "postfix", "start"),  # nameless
        ("stop", None, False, True, "postfix", "stop"),
        # Debian 13's primary: every postfix@ unit is PartOf=postfix.service
        ("start", "postfix.service", False, False, "systemd", "start"),
        ("stop", "postfix.service", True, True, "postfix", "stop"),
        ("reload", "postfix.service", True, True, "postfix", "reload"),
    ],
)
def test_translate(action: str, unit: str | None, active: bool, running: bool, via: str, verb: str) -> None:
    step = translate(action, unit, active, running)
    assert (step.via, step.verb) == (via, verb)
    assert (step.unit is not None) == (via == "systemd")


# ------------------------------------------------------------------------------- at boot
def test_boot_with_the_generator_masks_disabled_instances() -> None:
    entries = [("primary", "postfix@-.service", True), ("postfix-a", "postfix@postfix-a.service", True), ("postfix-b", "postfix@postfix-b.service", False)]
    states = {"postfix@-.service": "enabled-runtime", "postfix@postfix-a.service": "enabled-runtime", "postfix@postfix-b.service": "enabled-runtime"}
    changes, umbrella = plan_boot(DEBIAN12, entries, states, "enabled")
    assert [c.verbs for c in changes] == [(), (), ("mask",)]
    assert umbrella == ()
    assert boot_commands(changes, umbrella) == [("mask", ["postfix@postfix-b.service"])]
    # converged: nothing to do
    states["postfix@postfix-b.service"] = "masked"
    changes, umbrella = plan_boot(DEBIAN12, entries, states, "enabled")
    assert boot_commands(changes, umbrella) == []


def test_boot_with_the_generator_unmasks_and_enables_the_umbrella() -> None:
    entries = [("postfix-a", "postfix@postfix-a.service", True), ("postfix-b", "postfix@postfix-b.service", False)]
    states = {"postfix@postfix-a.service": "masked", "postfix@postfix-b.service": "enabled"}
    changes, umbrella = plan_boot(DEBIAN11, entries, states, "disabled")
    assert boot_commands(changes, umbrella) == [
        ("unmask", ["postfix@postfix-a.service"]),
        ("enable", ["postfix.service"]),
        ("disable", ["postfix@postfix-b.service"]),
        ("mask", ["postfix@postfix-b.service"]),
    ]
    _changes, umbrella = plan_boot(DEBIAN11, entries, states, "masked")
    assert umbrella == ("unmask", "enable")


def test_boot_without_generator_enables_and_disables_units() -> None:
    entries = [("primary", "postfix.service", True), ("postfix-a", "postfix@a.service", True), ("postfix-b", "postfix@b.service", False)]
    states = {"postfix.service": "enabled", "postfix@a.service": "disabled", "postfix@b.service": "enabled"}
    changes, umbrella = plan_boot(DEBIAN13, entries, states, "enabled")
    assert boot_commands(changes, umbrella) == [("enable", ["postfix@a.service"]), ("disable", ["postfix@b.service"])]
    states = {"postfix.service": "enabled", "postfix@a.service": "masked", "postfix@b.service": "disabled"}
    changes, umbrella = plan_boot(DEBIAN13, entries, states, "enabled")
    assert boot_commands(changes, umbrella) == [("unmask", ["postfix@a.service"]), ("enable", ["postfix@a.service"])]
    states = {"postfix.service": "enabled", "postfix@a.service": "enabled", "postfix@b.service": "disabled"}
    changes, umbrella = plan_boot(DEBIAN13, entries, states, "enabled")
    assert boot_commands(changes, umbrella) == []


def test_masks_of_instances_no_longer_listed_are_stale_with_the_generator_only() -> None:
    # postfix-old was masked while disabled, then destroyed (or renamed): postmulti -e create of a new
    # postfix-old would enable it and the generator would want its unit, which the mask keeps from starting
    masked = ["postfix@postfix-old.service", "postfix@postfix-b.service", "postfix@-.service"]
    listed = [unit_for(inst(None, primary=True), DEBIAN12), unit_for(inst("postfix-b", enabled=False), DEBIAN12), None]
    assert stale_masks(DEBIAN12, masked, listed) == ["postfix@postfix-old.service"]
    assert stale_masks(DEBIAN11, masked, listed) == ["postfix@postfix-old.service"]
    # without the generator a mask is the administrator's: the module never masks there
    assert stale_masks(DEBIAN13, ["postfix@old.service"], ["postfix.service"]) == []
    assert stale_masks(DEBIAN12, [], listed) == []


def test_a_stale_mask_is_unmasked_beside_the_listed_instances() -> None:
    entries = [("postfix-b", "postfix@postfix-b.service", False)]
    states = {"postfix@postfix-b.service": "masked"}
    changes, umbrella = plan_boot(DEBIAN12, entries, states, "enabled", ["postfix@postfix-old.service"])
    assert boot_commands(changes, umbrella) == [("unmask", ["postfix@postfix-old.service"])]
    stale = changes[0]
    assert (stale.label, stale.unit, stale.state, stale.wanted) == ("postfix-old", "postfix@postfix-old.service", "masked", False)
    assert "no longer listed" in stale.note


def test_boot_of_an_instance_without_unit_is_a_note() -> None:
    changes, _umbrella = plan_boot(DEBIAN13, [("postfix-x", None, True), ("postfix-y", None, False)], {}, "enabled")
    assert [c.verbs for c in changes] == [(), ()]
    assert "nothing starts it at boot" in changes[0].note and changes[1].note == ""


@pytest.mark.parametrize(
    ("packaging", "unit", "state", "umbrella", "expected"),
    [
        (DEBIAN12, "postfix@postfix-a.service", "disabled", "enabled", True),  # the generator pulls it in
        (DEBIAN12, "postfix@postfix-a.service", "disabled", "disabled", False),
        (DEBIAN12, "postfix@postfix-a.service", "masked", "enabled", False),
        (DEBIAN13, "postfix@a.service", "disabled", "enabled", False),
        (DEBIAN13, "postfix@a.service", "enabled", "disabled", True),
        (DEBIAN13, None, "", "enabled", False),
    ],
)
def test_starts_at_boot(packaging: Packaging, unit: str | None, state: str, umbrella: str, expected: bool) -> None:
    assert starts_at_boot(packaging, unit, state, umbrella) is expected


@pytest.mark.parametrize(
    ("state", "new", "expected"),
    [
        ("masked", None, [("unmask", "postfix@postfix-old.service")]),
        ("masked", "postfix@postfix-new.service", [("unmask", "postfix@postfix-old.service"), ("mask", "postfix@postfix-new.service")]),
        ("enabled", None, [("disable", "postfix@postfix-old.service")]),
        ("enabled", "postfix@postfix-new.service", [("disable", "postfix@postfix-old.service"), ("enable", "postfix@postfix-new.service")]),
        ("enabled-runtime", None, []),  # the generator's link: it follows the instance list at the next daemon-reload
        ("disabled", None, []),
        ("static", None, []),
        ("not-found", None, []),
    ],
)
def test_a_unit_of_an_instance_that_goes_away_is_left_as_systemd_had_it(state: str, new: str | None, expected: list[tuple[str, str]]) -> None:
    assert release_unit(state, "postfix@postfix-old.service", new) == expected
