# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Differential tests: postfix_config's value comparison against the real ``postconf -h -n``.

For generated main.cf files and desired values (strings in odd spellings, numbers, booleans,
lists), plan_config() must call a value unchanged exactly when ``postconf -c DIR -h -n NAME``
already prints the desired value, and after our edit postconf must print it. Fails (never
skips) when postconf is missing; every postconf read backdates main.cf by 10 s first.
"""

from __future__ import annotations

import os
import typing as t

import pytest
from ansible_collections.mailops.postfix_multi.plugins.module_utils._plan._configure import plan_config, render_value
from ansible_collections.mailops.postfix_multi.plugins.module_utils._postfix._maincf import MainCf, normalize_whitespace
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_maincf import KNOWN_NAMES, realistic_main_cf, simple_values
from test_maincf_differential import POSTCONF, Postconf

_DIFF = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Names generated files may contain that postfix_config refuses to manage.
_MANAGED = tuple(name for name in KNOWN_NAMES if not name.startswith("multi_instance_"))


@pytest.fixture(scope="module")
def postconf(tmp_path_factory: pytest.TempPathFactory) -> Postconf:
    if not (os.path.isfile(POSTCONF) and os.access(POSTCONF, os.X_OK)):
        pytest.fail(f"postconf not found at {POSTCONF}: install Postfix (the test command does)")
    return Postconf(tmp_path_factory.mktemp("configure-differential"))


_scalars = st.one_of(
    simple_values(),
    st.booleans(),
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["yes", "no", "  yes  ", "$myhostname,\tlocalhost", "a  ,  b", "[::1]/128"]),
)
_values = st.one_of(_scalars, st.lists(st.one_of(simple_values(), st.integers(0, 99), st.booleans()), max_size=4))


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str, t.Any]:
    text = draw(realistic_main_cf())
    name = draw(st.sampled_from(_MANAGED))
    cf = MainCf.parse(text)
    current = cf.get(name)
    if current is not None and draw(st.booleans()):
        # the value as it is, in another spelling: must be "ok"
        words = current.split(" ")
        value: t.Any = draw(st.sampled_from(["\t", "  ", " \t "])).join(words) if draw(st.booleans()) else current + " "
    else:
        value = draw(_values)
        # a value that refers to its own parameter ($myhostname in myhostname) is a macro loop
        # that postconf refuses to print: not a comparison this test can make
        assume(f"${name}" not in str(value) and f"${{{name}}}" not in str(value))
    return text, name, value


@settings(_DIFF, max_examples=150)
@given(cases())
def test_unchanged_exactly_when_postconf_prints_the_value(postconf: Postconf, case: tuple[str, str, t.Any]) -> None:
    text, name, value = case
    desired = normalize_whitespace(render_value(name, value))
    plan = plan_config(MainCf.parse(text), {name: value})
    postconf.write(text)
    before = postconf.show(name)
    assert (name not in plan.set_values) == (before == desired), f"postconf prints {before!r}, desired {desired!r}"
    assert plan.changed == (name in plan.set_values)
    postconf.write(plan.after.render())
    assert postconf.show(name) == desired == plan.after.get(name)
    # a second run finds nothing to do
    assert not plan_config(plan.after, {name: value}).changed


@settings(_DIFF, max_examples=60)
@given(realistic_main_cf(), st.lists(st.sampled_from(_MANAGED), max_size=3, unique=True), st.booleans())
def test_absent_and_exclusive_leave_what_postconf_shows(postconf: Postconf, text: str, absent: list[str], exclusive: bool) -> None:
    keep = {"mydomain": "example.org"}
    plan = plan_config(MainCf.parse(text), keep if exclusive else {}, [name for name in absent if not (exclusive and name in keep)], exclusive)
    postconf.write(plan.after.render())
    rc, params, stderr = postconf.non_default()
    assert rc == 0, stderr
    for name in absent:
        if not (exclusive and name in keep):
            assert name not in params
    if exclusive:
        assert {name for name in params if not name.startswith("multi_instance_")} <= set(keep)
    assert params == {name: value for name, value in plan.after.params().items() if name in params}
