# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_role_args: the multi_instance role's variables validated in the role's module call.

Differential, against ansible-core itself: the same bad role variables are given to a play that
lists the role under ``roles:`` (Ansible's own validation task) and to the collection's rollout
playbook (which includes the role with ``rolespec_validate: false``); each host of the inventory
is one case, and both must refuse it with the same errors before the module runs - on the
controller only (every case fails validation, so nothing reaches a host)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.mailops.postfix_multi.plugins.plugin_utils import _role_args

COLLECTIONS = Path(_role_args.__file__).parents[5]  # the directory that holds ansible_collections/
CALLBACKS = Path(__file__).parents[3] / "integration" / "lab_callback"

# host -> its bad role variables (what an operator's group_vars could hold); not those that the rollout
# playbook sets from its own variables (postfix_multi_probe*, postfix_multi_check_*)
CASES: dict[str, dict[str, object]] = {
    "bool": {"postfix_multi_start": "sometimes"},
    "bool_prune": {"postfix_multi_prune": "maybe"},
    "list_of_dicts": {"postfix_multi_primary_maps": "virtual"},
    "dict": {"postfix_multi_primary_parameters": ["myhostname=a.example"]},
    "int": {"postfix_multi_instances": [{"name": "postfix-a", "tls": {"chains": [{"chain_file": "/etc/a.pem"}], "expiry_warning_days": "soon"}}]},
    "instance_unknown_key": {"postfix_multi_instances": [{"name": "postfix-a", "paramters": {"myhostname": "a.example"}}]},
    "instance_no_name": {"postfix_multi_instances": [{"parameters": {"myhostname": "a.example"}}]},
    "instance_choice": {"postfix_multi_instances": [{"name": "postfix-a", "state": "running"}]},
    "two": {"postfix_multi_install": "perhaps", "postfix_multi_packages": {"name": "postfix"}},
}

ROLES_PLAY = """
- name: The role, validated by Ansible's own task
  hosts: all
  gather_facts: false
  roles:
    - mailops.postfix_multi.multi_instance
"""


def run(tmp_path: Path, playbook: str, *extra: str) -> dict[str, list[dict]]:
    """Run ``playbook`` on every case; each host's failed task results."""
    inventory = {
        "all": {
            "hosts": {
                # a module that ran despite a bad value would fail here, not change this machine
                name: {"ansible_connection": "local", "ansible_python_interpreter": "/nonexistent/python3", **variables}
                for name, variables in CASES.items()
            }
        }
    }
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    results = tmp_path / f"results-{len(list(tmp_path.iterdir()))}.jsonl"
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS),
        ANSIBLE_CALLBACKS_ENABLED="lab_results",
        LAB_RESULTS_FILE=str(results),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "local"),
        ANSIBLE_FORKS="10",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        PYTHONHASHSEED="0",  # Ansible lists the valid booleans from a set
    )
    playbook_bin = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run(
        [str(playbook_bin), "-i", str(tmp_path / "inventory.yml"), playbook, *extra], capture_output=True, text=True, env=env, check=False, cwd=tmp_path
    )
    assert proc.returncode != 0, proc.stdout
    failed: dict[str, list[dict]] = {}
    for line in results.read_text().splitlines():
        record = json.loads(line)
        if record["status"] == "failed":
            failed.setdefault(record["host"], []).append(record)
    assert set(failed) == set(CASES), proc.stdout[-3000:]
    return failed


def test_the_rollout_refuses_what_ansibles_own_validation_refuses(tmp_path: Path) -> None:
    (tmp_path / "roles.yml").write_text(ROLES_PLAY)
    reference = run(tmp_path, str(tmp_path / "roles.yml"))
    rollout = run(tmp_path, "mailops.postfix_multi.rollout", "-e", "postfix_multi_hosts=all", "-e", "postfix_multi_rollout_serial=100%")
    for host, variables in CASES.items():
        (theirs,) = reference[host]
        assert theirs["action"] == "ansible.builtin.validate_argument_spec"
        ours = rollout[host][0]  # the module call; then the role's rescue says which host failed
        assert ours["task"].endswith("Plan, validate, apply and probe the design"), ours
        assert ours["result"]["argument_errors"] == theirs["result"]["argument_errors"], host
        assert ours["result"]["msg"] == theirs["result"]["msg"], host
        assert "Validation of arguments failed" in rollout[host][-1]["result"]["msg"]
        for name in variables:
            assert name in ours["result"]["msg"], (host, name)


def test_a_call_outside_the_role_is_not_judged_by_the_roles_specification() -> None:
    class Task:
        _role = None

    assert _role_args.role_argument_failure(Task(), {"postfix_multi_start": "sometimes"}, None, None, "/nonexistent") is None


@pytest.mark.parametrize("damage", ["other_owner_writable", "link"])
def test_the_kept_specification_is_used_only_when_private(tmp_path: Path, damage: str) -> None:
    from ansible.parsing.dataloader import DataLoader

    local_tmp = tmp_path / "tmp" / "ansible-local-1"
    store = tmp_path / "tmp" / "mailops.postfix_multi-ansiballz"
    store.mkdir(parents=True, mode=0o700)
    loader = DataLoader()
    first = _role_args.argument_specs(loader, str(local_tmp))
    kept = list(store.glob("role-argument-specs-*.json"))
    assert len(kept) == 1 and kept[0].stat().st_mode & 0o777 == 0o600
    assert json.loads(kept[0].read_text()) == first
    assert first["argument_specs"]["main"]["options"]["postfix_multi_start"]["type"] == "bool"
    # a kept file that someone else could have written is not believed: the YAML is read again
    forged = {"argument_specs": {"main": {"options": {}}}}
    if damage == "link":
        elsewhere = tmp_path / "elsewhere.json"
        elsewhere.write_text(json.dumps(forged))
        elsewhere.chmod(0o600)
        kept[0].unlink()
        kept[0].symlink_to(elsewhere)
    else:
        kept[0].write_text(json.dumps(forged))
        kept[0].chmod(0o622)
    assert _role_args.argument_specs(loader, str(local_tmp)) == first
