# Copyright (c) 2026, mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Iterator mode: classes, order, skipping and idempotence (postmulti(1) iterator mode), and running the plan."""

from __future__ import annotations

import typing as t

import pytest
from _fakes import INITIALISED, FakeFacts, host, secondary_main
from ansible_collections.mailops.postfix_multi.plugins.module_utils._core._errors import PostfixMultiError
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host import _service, _systemd
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._runner import CommandResult
from ansible_collections.mailops.postfix_multi.plugins.module_utils._host._service import NONE, command_classes, manage_service, plan
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._registry import FALLBACK_DEFAULTS, Instance, Registry
from test_systemd import DEBIAN12, DEBIAN13

P, A, B = "/etc/postfix", "/etc/postfix-a", "/etc/postfix-b"


def abc(primary: str = INITIALISED) -> FakeFacts:
    """9.5's setup: P enabled, a enabled, b disabled."""
    return host(
        primary=primary,
        secondaries=[
            (A, secondary_main("postfix-a", "mta", "yes")),
            (B, secondary_main("postfix-b", "mta", "no")),
        ],
    )


def instances(facts: FakeFacts | None = None) -> list[Instance]:
    return Registry.load(FALLBACK_DEFAULTS, (facts or abc()).read_text).instances


Row = t.Tuple[str, str, t.Tuple[str, ...]]


def steps(
    state: str | None = None,
    command: list[str] | None = None,
    running: t.Iterable[str] = (),
    reverse: bool = False,
    facts: FakeFacts | None = None,
) -> list[Row]:
    facts = facts or abc()
    reg = Registry.load(FALLBACK_DEFAULTS, facts.read_text)
    live = {d: d in set(running) for d in (i.config_directory for i in reg.instances)}
    out = plan(reg.instances, live, state=state, command=command, classes=command_classes(reg), reverse=reverse)
    return [(s.instance.config_directory, s.action, s.args) for s in out]


def test_started_checks_disabled_in_list_order() -> None:
    assert steps("started") == [(P, "start", ("start",)), (A, "start", ("start",)), (B, "check", ("check",))]


def test_started_is_idempotent() -> None:
    assert steps("started", running=[P, A]) == [(P, NONE, ()), (A, NONE, ()), (B, "check", ("check",))]
    reg = Registry.load(FALLBACK_DEFAULTS, abc().read_text)
    out = plan(reg.instances, {P: True, A: True, B: False}, state="started")
    assert not any(s.changes for s in out)
    assert out[0].reason == "already running"


def test_stopped_reverse_skips_disabled() -> None:
    assert steps("stopped", running=[P, A, B]) == [(B, NONE, ()), (A, "stop", ("stop",)), (P, "stop", ("stop",))]


def test_stopped_is_idempotent() -> None:
    assert [a for _d, a, _x in steps("stopped")] == [NONE, NONE, NONE]


def test_disabled_running_instance_is_not_stopped_and_said_so() -> None:  # observed 5.3 trap
    reg = Registry.load(FALLBACK_DEFAULTS, abc().read_text)
    out = plan(reg.instances, {P: False, A: False, B: True}, state="stopped")
    assert out[0].action == NONE and "it is running" in out[0].reason


def test_reloaded_forward_enabled_running_only() -> None:
    assert steps("reloaded", running=[P, A, B]) == [(P, "reload", ("reload",)), (A, "reload", ("reload",)), (B, NONE, ())]
    assert steps("reloaded", running=[A]) == [(P, NONE, ()), (A, "reload", ("reload",)), (B, NONE, ())]


def test_flushed_like_reload() -> None:
    assert steps("flushed", running=[P, A]) == [(P, "flush", ("flush",)), (A, "flush", ("flush",)), (B, NONE, ())]


def test_restarted_stops_reverse_then_starts_forward() -> None:
    assert steps("restarted", running=[P, A]) == [
        (A, "stop", ("stop",)),
        (P, "stop", ("stop",)),
        (P, "start", ("start",)),
        (A, "start", ("start",)),
        (B, "check", ("check",)),
    ]
    # a stopped instance is started
    assert steps("restarted", running=[P]) == [(P, "stop", ("stop",)), (P, "start", ("start",)), (A, "start", ("start",)), (B, "check", ("check",))]


def test_checked_runs_everywhere_and_reverses() -> None:
    assert [d for d, _a, _x in steps("checked")] == [P, A, B]
    assert [d for d, _a, _x in steps("checked", reverse=True)] == [B, A, P]


def test_command_status_runs_for_all() -> None:
    assert steps(command=["status"]) == [(P, "status", ("status",)), (A, "status", ("status",)), (B, "status", ("status",))]


@pytest.mark.parametrize("word", ["quick-stop", "drain", "abort", "stop"])
def test_stop_class_commands_reverse_and_skip_disabled(word: str) -> None:
    assert steps(command=[word]) == [(B, NONE, ()), (A, word, (word,)), (P, word, (word,))]


def test_command_stop_on_only_disabled_is_no_matching_instances() -> None:
    facts = host(secondaries=[(B, secondary_main("postfix-b", None, "no"))])
    reg = Registry.load(FALLBACK_DEFAULTS, facts.read_text)
    only_b = [i for i in reg.instances if i.matches("postfix-b")]
    with pytest.raises(PostfixMultiError, match="No matching instances"):
        plan(only_b, {}, command=["stop"])
    # the state is idempotent instead: nothing to do, no failure
    assert [s.action for s in plan(only_b, {}, state="stopped")] == [NONE]


def test_start_command_with_arguments_becomes_check_for_disabled() -> None:
    assert steps(command=["start", "extra"])[2] == (B, "check", ("check", "extra"))
    assert steps(command=["start", "extra"])[0] == (P, "start", ("start", "extra"))


def test_command_start_is_not_idempotent() -> None:
    assert steps(command=["start"], running=[P, A])[:2] == [(P, "start", ("start",)), (A, "start", ("start",))]


def test_stop_commands_from_main_cf() -> None:
    facts = abc(primary=INITIALISED + "postmulti_stop_commands = stop\n")
    assert steps(command=["abort"], facts=facts) == [(P, "abort", ("abort",)), (A, "abort", ("abort",)), (B, "abort", ("abort",))]
    assert command_classes(Registry.load(FALLBACK_DEFAULTS, facts.read_text))["stop"] == ["stop"]


def test_command_classes_defaults() -> None:
    assert command_classes(Registry.load(FALLBACK_DEFAULTS, abc().read_text)) == {
        "start": ["start"],
        "stop": ["stop", "abort", "drain", "quick-stop"],
        "control": ["reload", "flush"],
    }


def test_reverse_only_where_postmulti_allows_it() -> None:
    assert [d for d, _a, _x in steps(command=["status"], reverse=True)] == [B, A, P]
    for state in ("started", "stopped", "reloaded", "restarted", "flushed"):
        with pytest.raises(PostfixMultiError, match="reverse is not allowed"):
            steps(state, reverse=True)
    with pytest.raises(PostfixMultiError, match="reverse is not allowed with the stop command"):
        steps(command=["drain"], reverse=True)


@pytest.mark.parametrize("command", [[], [""], ["/bin/sh"], ["-v"]])
def test_bad_commands(command: list[str]) -> None:
    with pytest.raises(PostfixMultiError):
        steps(command=command)


def test_state_and_command_exclusive() -> None:
    with pytest.raises(PostfixMultiError, match="at most one"):
        plan([], {}, state="started", command=["status"])
    with pytest.raises(PostfixMultiError, match="state must be"):
        plan([], {}, state="running")


# ----------------------------------------------------------------------------- running the plan
class ServiceFacts(FakeFacts):
    def defaults(self) -> dict[str, str]:
        return dict(FALLBACK_DEFAULTS)

    def postfix(self) -> str:
        return "/usr/sbin/postfix"


class FakeServiceHost(_service.ServiceHost):
    """A host whose systemd answers from dicts; its packaging is Debian 12's real unit files
    (fixtures/systemd) unless given."""

    def __init__(
        self,
        facts: ServiceFacts,
        booted: bool = False,
        units: dict[str, bool] | None = None,
        wants: list[str] | None = None,
        packaging: _systemd.Packaging | None = None,
        enabled: dict[str, str] | None = None,
    ) -> None:
        super().__init__(t.cast(t.Any, facts))
        self.booted, self.units, self.wants = booted, units or {}, wants
        self.pkg = packaging or DEBIAN12
        self.enabled = enabled or {}

    def systemd_booted(self) -> bool:
        return self.booted

    def packaging(self) -> _systemd.Packaging:
        return self.pkg

    def is_enabled(self, units: t.Sequence[str]) -> dict[str, str]:
        return {unit: self.enabled.get(unit, "disabled") for unit in units}

    def generated_wants(self) -> list[str] | None:
        return self.wants

    def systemctl(self) -> str:
        return "/bin/systemctl"

    def unit_active(self, unit: str) -> bool:
        return self.units.get(unit, False)


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[str, ...], bool]]:
    calls: list[tuple[tuple[str, ...], bool]] = []

    def fake_run(argv: t.Sequence[str], *, tty: bool = False, **kwargs: t.Any) -> CommandResult:
        calls.append((tuple(argv), tty))
        rc = 3 if "/etc/postfix-a" in argv else 0
        return CommandResult(tuple(argv), rc, "", "postfix-a/postfix-script: fatal: boom" if rc else "")

    monkeypatch.setattr(_service._runner, "run", fake_run)
    return calls


def service_facts(running: t.Iterable[str] = ()) -> ServiceFacts:
    facts = abc()
    out = ServiceFacts(files=dict(facts.files), dirs=set(facts.dirs))
    out.running.update(running)
    return out


def test_failure_continues_and_reports_postfix_message(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    result = manage_service({"state": "started"}, check_mode=False, host=FakeServiceHost(service_facts()))
    assert [argv[-1] for argv, _tty in ran] == ["start", "start", "check"]
    assert all(tty for _argv, tty in ran)  # Postfix's messages are captured on a pty
    assert ran[0][0] == ("/usr/sbin/postfix", "-c", P, "--", "start")
    assert result["failed"] is True
    assert "postfix-a/postfix-script: fatal: boom" in result["msg"]
    assert [r["rc"] for r in result["results"]] == [0, 3, 0]
    assert result["results"][1]["output"] == "postfix-a/postfix-script: fatal: boom"
    assert result["changed"] is True  # the primary did start


def test_check_mode_runs_nothing(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    result = manage_service({"state": "started"}, check_mode=True, host=FakeServiceHost(service_facts()))
    assert ran == []
    assert result["changed"] is True
    assert [(r["action"], r["rc"], r["changed"]) for r in result["results"]] == [("start", None, True), ("start", None, True), ("check", None, False)]
    assert result["results"][0]["cmd"] == ["/usr/sbin/postfix", "-c", P, "--", "start"]
    assert result["msg"].startswith("would run start for")


def test_nothing_to_do_is_unchanged(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    result = manage_service({"state": "stopped"}, check_mode=False, host=FakeServiceHost(service_facts()))
    assert ran == [] and result["changed"] is False and "failed" not in result
    assert result["msg"].startswith("nothing to do")


def test_unknown_group_fails_with_known(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    with pytest.raises(PostfixMultiError, match="known groups: mta"):
        manage_service({"state": "started", "group": "nosuch"}, check_mode=False, host=FakeServiceHost(service_facts()))


def test_disabled_running_warns(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    result = manage_service({"state": "stopped"}, check_mode=False, host=FakeServiceHost(service_facts(running=[B])))
    assert any("postfix-b is disabled but running" in w for w in result["warnings"])


def test_conflicting_instances_refuse(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    facts = host(secondaries=[(A, secondary_main("postfix-a", queue="/q")), (B, secondary_main("postfix-b", queue="/q"))])
    sfacts = ServiceFacts(files=dict(facts.files), dirs=set(facts.dirs))
    with pytest.raises(PostfixMultiError, match="conflicts with"):
        manage_service({"state": "started"}, check_mode=False, host=FakeServiceHost(sfacts))


def test_systemd_backend_uses_units(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    wants = ["postfix@-.service", "postfix@postfix-a.service", "postfix@postfix-b.service"]
    svc = FakeServiceHost(service_facts(running=[P]), booted=True, units={"postfix@-.service": True}, wants=wants)
    result = manage_service({"state": "restarted"}, check_mode=False, host=svc)
    assert result["backend"] == "systemd" and result["daemon_reload"] is False
    assert [argv for argv, _tty in ran] == [
        ("/bin/systemctl", "stop", "postfix@-.service"),
        ("/bin/systemctl", "start", "postfix@-.service"),
        ("/bin/systemctl", "start", "postfix@postfix-a.service"),
        ("/usr/sbin/postfix", "-c", B, "--", "check"),
    ]


def test_systemd_daemon_reload_when_instances_changed(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    converged = {"postfix.service": "enabled", "postfix@postfix-b.service": "masked"}
    svc = FakeServiceHost(service_facts(running=[P, A]), booted=True, wants=["postfix@-.service"], enabled=converged)
    result = manage_service({"state": "started", "enabled": True}, check_mode=True, host=svc)
    assert result["daemon_reload"] is True and result["changed"] is True and ran == []
    result = manage_service({"state": "started", "enabled": True}, check_mode=False, host=svc)
    assert ran == [(("/bin/systemctl", "daemon-reload"), False), (("/usr/sbin/postfix", "-c", B, "--", "check"), True)]


def test_no_daemon_reload_without_boot_settings_or_generator(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    # Without enabled, what starts at boot is not this call's business: stale generated wants are left.
    svc = FakeServiceHost(service_facts(running=[P, A]), booted=True, wants=["postfix@-.service"])
    for state in ("started", "checked"):
        result = manage_service({"state": state}, check_mode=False, host=svc)
        assert result["daemon_reload"] is False
        assert result["changed"] is False
    # Debian 13 has no generator: never a daemon-reload, and checked never changes anything
    svc = FakeServiceHost(
        service_facts(running=[P, A]), booted=True, wants=None, packaging=DEBIAN13, enabled={"postfix.service": "enabled", "postfix@a.service": "enabled"}
    )
    for options in ({"state": "checked"}, {"state": "started", "enabled": True}):
        result = manage_service(options, check_mode=False, host=svc)
        assert (result["daemon_reload"], result["changed"]) == (False, False), options
    assert all(argv[0] != "/bin/systemctl" or argv[1] != "daemon-reload" for argv, _tty in ran)


def test_enabled_makes_boot_follow_postmulti(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    svc = FakeServiceHost(
        service_facts(running=[P, A]), booted=True, packaging=DEBIAN13, enabled={"postfix.service": "enabled", "postfix@b.service": "enabled"}
    )
    result = manage_service({"enabled": True}, check_mode=True, host=svc)
    assert ran == [] and result["changed"] is True and result["results"] == []
    assert [(b["unit"], b["verbs"], b["starts_at_boot"]) for b in result["boot"]] == [
        ("postfix.service", [], True),
        ("postfix@a.service", ["enable"], True),
        ("postfix@b.service", ["disable"], False),  # postfix-b is disabled in main.cf
    ]
    manage_service({"enabled": True}, check_mode=False, host=svc)
    assert [argv for argv, _tty in ran] == [("/bin/systemctl", "enable", "--", "postfix@a.service"), ("/bin/systemctl", "disable", "--", "postfix@b.service")]
    ran.clear()
    result = manage_service({"enabled": False, "name": "postfix-a"}, check_mode=False, host=svc)
    assert [b["verbs"] for b in result["boot"]] == [[]]  # a is still "disabled" in this fake
    svc.enabled["postfix@a.service"] = "enabled"
    manage_service({"enabled": False, "name": "postfix-a"}, check_mode=False, host=svc)
    assert [argv for argv, _tty in ran] == [("/bin/systemctl", "disable", "--", "postfix@a.service")]


def test_boot_settings_come_before_the_start(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    svc = FakeServiceHost(
        service_facts(running=[P]), booted=True, wants=expected_wants_abc(), enabled={"postfix.service": "enabled", "postfix@postfix-a.service": "masked"}
    )
    manage_service({"state": "started", "enabled": True}, check_mode=False, host=svc)
    assert [argv[:3] for argv, _tty in ran][:3] == [
        ("/bin/systemctl", "unmask", "--"),
        ("/bin/systemctl", "mask", "--"),
        ("/bin/systemctl", "start", "postfix@postfix-a.service"),
    ]


def test_enabled_without_systemd_warns_and_changes_nothing(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    result = manage_service({"enabled": True}, check_mode=False, host=FakeServiceHost(service_facts()))
    assert ran == [] and result["changed"] is False and result["boot"] == []
    assert any("boot settings were left alone (systemd is not PID 1)" in w for w in result["warnings"])


def expected_wants_abc() -> list[str]:
    return _systemd.expected_wants(["postfix-a", "postfix-b"])


def test_use_postmulti_overrides_systemd(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    svc = FakeServiceHost(service_facts(), booted=True)
    result = manage_service({"state": "started", "use": "postmulti", "name": "-"}, check_mode=False, host=svc)
    assert result["backend"] == "postmulti"
    assert ran == [(("/usr/sbin/postfix", "-c", P, "--", "start"), True)]


def test_boot_drift_lists_what_enabled_true_would_run() -> None:
    facts = service_facts(running=[P, A])
    reg = Registry.load(FALLBACK_DEFAULTS, facts.read_text)
    assert _service.boot_drift(reg, FakeServiceHost(facts)) is None  # systemd is not PID 1
    svc = FakeServiceHost(facts, booted=True, wants=expected_wants_abc(), enabled={"postfix.service": "enabled"})
    assert _service.boot_drift(reg, svc) == ["/bin/systemctl mask -- postfix@postfix-b.service"]
    svc.enabled["postfix@postfix-b.service"] = "masked"
    assert _service.boot_drift(reg, svc) == []
    svc.wants = ["postfix@-.service"]  # the generator has not seen the instances yet
    assert _service.boot_drift(reg, svc) == ["/bin/systemctl daemon-reload"]
    unusable = FakeServiceHost(facts, booted=True, packaging=_systemd.Packaging(None, None))
    assert _service.boot_drift(reg, unusable) is None


def test_started_without_enabled_warns_when_boot_differs(ran: list[tuple[tuple[str, ...], bool]]) -> None:
    svc = FakeServiceHost(service_facts(running=[P, A]), booted=True, packaging=DEBIAN13, enabled={"postfix.service": "enabled"})
    result = manage_service({"state": "started"}, check_mode=False, host=svc)
    assert result["changed"] is False and result["boot"] == []
    assert any("postfix-a" in w and "give enabled=true" in w for w in result["warnings"]), result["warnings"]
    assert all(argv[1] not in ("enable", "disable", "mask", "unmask") for argv, _tty in ran)
    svc.enabled["postfix@a.service"] = "enabled"
    result = manage_service({"state": "started"}, check_mode=False, host=svc)
    assert not any("give enabled=true" in w for w in result["warnings"])
