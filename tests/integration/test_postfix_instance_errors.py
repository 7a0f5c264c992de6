# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Refusals of mailops.postfix_multi.postfix_instance (what postmulti(1) refuses, and more).

Every case runs in check mode and then applied; both must FAIL with a message that says what is
wrong (asserted on ``msg``), and the host must be byte-identical afterwards: ``host.state()`` as
before, and no main.cf/master.cf rewritten (inode, mtime and size of each unchanged). The cases
of one host run as one chain in one ansible run (see ``run_steps`` in test_postfix_instance.py).
"""

from __future__ import annotations

import re

import test_oracle_parity as op
from test_postfix_instance import Step, run_steps, start_instance, stop_instance

MODULE = "mailops.postfix_multi.postfix_instance"


def test_create_before_init(host):
    """without postfix_multi_init nothing is created (postmulti: multi_instance_wrapper is empty).
    Check mode plans the instance as if the init had run (a play's earlier postfix_multi_init task,
    which in check mode writes nothing either) and says so; the real run refuses."""
    before = host.read("/etc/postfix/main.cf")
    planned = host.module(MODULE, check=True, module_args={"name": "postfix-a", "group": "mta"})
    assert planned.get("failed") is not True and planned["changed"] is True, planned
    (warning,) = [w for w in planned["warnings"] if w.startswith("check mode: ")]
    assert "multi_instance_wrapper is empty in /etc/postfix/main.cf" in warning and "a real run refuses until then" in warning, warning
    (registration,) = [d for d in planned["diff"] if d["after_header"] == "/etc/postfix/main.cf"]
    assert "multi_instance_directories = /etc/postfix-a" in registration["after"]
    refused = host.module(MODULE, module_args={"name": "postfix-a", "group": "mta"})
    assert refused["failed"] is True and refused.get("changed") is not True, refused
    assert re.search(
        r"not initialised: multi_instance_wrapper is empty in /etc/postfix/main.cf; run mailops\.postfix_multi\.postfix_multi_init first", refused["msg"]
    ), refused["msg"]
    assert not host.path("/etc/postfix-a").exists()
    assert host.read("/etc/postfix/main.cf") == before


def queue_mail(host) -> None:
    """Two queue files in postfix-out (stopped): one deferred (in a hashed subdirectory), one on hold."""
    for sub, queue_id in (("deferred/A", "A1B2C3D4E5"), ("hold", "F6A7B8C9D0")):
        directory = host.path(f"/var/spool/postfix-out/{sub}")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / queue_id).write_bytes(b"not really a queue file, but mail all the same\n")
    host.run("chown", "-R", "postfix:", "/var/spool/postfix-out/deferred", "/var/spool/postfix-out/hold")


def half_instance(host) -> None:
    """a config directory holding main.cf but no master.cf."""
    conf = host.path("/etc/postfix-half")
    conf.mkdir(mode=0o755)
    (conf / "main.cf").write_text("# my own main.cf\nmyhostname = half.example\n")


def link(path: str, target: str):
    """A host action: make ``path`` a symbolic link to ``target`` (absolute inside the host)."""

    def action(host) -> None:
        host.path(path).parent.mkdir(parents=True, exist_ok=True)
        host.path(path).symlink_to(target)

    return action


def data_directory_is_var_lib(host) -> None:
    """postfix-dl's data directory replaced by a link to /var/lib (registered before the link appeared)."""
    host.path("/var/lib/postfix-dl").rename(host.path("/var/lib/postfix-dl.real"))
    host.path("/var/lib/postfix-dl").symlink_to("/var/lib")


def data_directory_back(host) -> None:
    host.path("/var/lib/postfix-dl").unlink()
    host.path("/var/lib/postfix-dl.real").rename(host.path("/var/lib/postfix-dl"))


def remove_prototype(host) -> None:
    host.path("/etc/postfix/main.cf.proto").unlink()


def test_refusals(oracle, new_host):
    """Bad names, bad directories (relative, the root, another instance's queue and the primary's), a name in use,
    main.cf without master.cf, destroy of the primary, of an enabled instance, of a
    running one, of one with mail - even with force, and a missing prototype."""
    op.init(oracle)
    op.create(oracle, name="postfix-out", group="mta")
    op.create(oracle, name="postfix-en")
    op.enable(oracle, "postfix-en")
    op.create(oracle, name="postfix-dl")
    host = new_host("host", source=oracle)

    name_rule = r"New instance name must start with 'postfix-' \(got 'out'\); use e\.g\. 'postfix-out'"
    steps = [
        Step("name without postfix-", {"name": "out"}, fails=name_rule),
        Step("slash in the name", {"name": "postfix-a/b"}, fails=r"Illegal '/' character in new instance name: 'postfix-a/b'"),
        Step("space in the name", {"name": "postfix-a b"}, fails=r"Unsafe characters in new instance name: 'postfix-a b' \(allowed: "),
        Step(
            "relative config_directory",
            {"name": "postfix-rel", "config_directory": "rel/dir"},
            fails=r"config_directory 'rel/dir' is not an absolute path",
        ),
        Step("config_directory /", {"name": "postfix-root", "config_directory": "/"}, fails=r"config_directory '/' is the root directory"),
        Step(
            "queue directory of another instance",
            {"name": "postfix-q", "queue_directory": "/var/spool/postfix-out"},
            fails=r"instance /etc/postfix-q, queue_directory=/var/spool/postfix-out conflicts with instance /etc/postfix-out, queue_directory=",
        ),
        Step(
            "the same queue directory spelled differently (postmulti misses this one)",
            {"name": "postfix-q", "queue_directory": "/var/spool//postfix-out/./"},
            fails=r"queue_directory=/var/spool/postfix-out conflicts with instance /etc/postfix-out, queue_directory=",
        ),
        Step(
            "queue directory of the primary",
            {"name": "postfix-qp", "queue_directory": "/var/spool/postfix"},
            fails=r"instance /etc/postfix-qp, queue_directory=/var/spool/postfix conflicts with instance /etc/postfix, queue_directory=/var/spool/postfix",
        ),
        Step(
            "config_directory a symbolic link to /etc (postmulti writes /etc/main.cf)",
            {"name": "postfix-link", "config_directory": "/etc/postfix-link"},
            prepare_host=link("/etc/postfix-link", "/etc"),
            fails=r"config_directory /etc/postfix-link resolves to /etc \(a system directory\) through a symbolic link",
        ),
        Step(
            "config_directory below a symbolic link",
            {"name": "postfix-p", "config_directory": "/srv/lnk/postfix-p"},
            prepare_host=link("/srv/lnk", "/etc"),
            fails=r"config_directory /srv/lnk/postfix-p resolves to /etc/postfix-p through a symbolic link\. .*give the real path \(/etc/postfix-p\)",
        ),
        Step(
            "queue_directory the instance's own config_directory (postmulti refuses it; the list would not load)",
            {"name": "postfix-d31", "config_directory": "/srv/d31", "queue_directory": "/srv/d31"},
            fails=r"instance /srv/d31: config_directory and queue_directory are the same directory \(/srv/d31\); give each its own",
        ),
        Step(
            "a queue_directory that Postfix would expand to the primary's",
            {"name": "postfix-q", "queue_directory": "/var/spool/postfix${undefined_xyz}"},
            fails=r"queue_directory '/var/spool/postfix\$\{undefined_xyz\}' contains '\$', which Postfix expands to another directory",
        ),
        Step(
            "queue_directory inside the primary's queue directory",
            {"name": "postfix-nest", "queue_directory": "/var/spool/postfix/nest"},
            fails=r"queue_directory=/var/spool/postfix/nest lies inside instance /etc/postfix's queue_directory=/var/spool/postfix",
        ),
        Step(
            "destroy an instance whose data directory is a link to /var/lib",
            {"name": "postfix-dl", "state": "absent", "force": True},
            prepare_host=data_directory_is_var_lib,
            cleanup_host=data_directory_back,
            fails=r"Cannot destroy instance postfix-dl: its data_directory /var/lib/postfix-dl \(really /var/lib\) is a system directory\. Nothing was changed",
        ),
        Step(
            "assign a name another instance has",
            {"config_directory": "/etc/postfix-en", "name": "postfix-out"},
            fails=r"multi_instance_name=postfix-out conflicts with instance /etc/postfix-out, multi_instance_name=postfix-out",
        ),
        Step(
            "create under a name another instance has",
            {"config_directory": "/etc/postfix-out2", "name": "postfix-out"},
            fails=r"instance /etc/postfix-out2, multi_instance_name=postfix-out conflicts with instance /etc/postfix-out",
        ),
        Step(
            "main.cf without master.cf (postmulti would overwrite main.cf)",
            {"name": "postfix-half"},
            prepare_host=half_instance,
            fails=r"/etc/postfix-half holds main\.cf but no master\.cf\. postmulti would silently replace it .* this module refuses",
        ),
        Step(
            "destroy the primary, even with force",
            {"config_directory": "/etc/postfix", "state": "absent", "force": True},
            fails=r"Cannot destroy the primary instance \(/etc/postfix\)",
        ),
        Step(
            "destroy an enabled instance without force",
            {"name": "postfix-en", "state": "absent"},
            fails=r"Cannot destroy enabled instance postfix-en: set enabled=false first .* or force=true",
        ),
        Step(
            "deport an enabled instance without force",
            {"name": "postfix-en", "state": "deported"},
            fails=r"Cannot deport enabled instance postfix-en",
        ),
        Step(
            "destroy a running (disabled) instance without force",
            {"name": "postfix-out", "state": "absent"},
            prepare_host=start_instance("/etc/postfix-out"),
            fails=r"Instance postfix-out \(/etc/postfix-out\) is not stopped: stop it first, or set force=true",
        ),
        Step(
            "deport a running instance without force",
            {"name": "postfix-out", "state": "deported"},
            fails=r"Instance postfix-out \(/etc/postfix-out\) is not stopped",
            cleanup_host=stop_instance("/etc/postfix-out"),
        ),
        Step(
            "destroy with mail in the queue, even with force",
            {"name": "postfix-out", "state": "absent", "force": True},
            prepare_host=queue_mail,
            fails=r"Cannot destroy instance postfix-out: its queue /var/spool/postfix-out still holds 2 messages \(deferred: 1, hold: 1\)\. "
            r"This module never deletes mail",
        ),
        Step(
            "missing main.cf prototype",
            {"name": "postfix-new"},
            prepare_host=remove_prototype,
            fails=r"Missing main\.cf prototype: /etc/postfix/main\.cf\.proto",
        ),
    ]
    try:
        run_steps(host, steps)
    finally:
        stop_instance("/etc/postfix-out")(host)
    for path in ("/etc/postfix-q", "/var/spool/postfix-q", "/etc/postfix-new", "/var/spool/postfix-new", "/var/lib/postfix-new", "/etc/postfix-out2"):
        assert not host.path(path).exists(), f"{path} was created"
    for path in ("/etc/main.cf", "/etc/master.cf", "/etc/postfix-p", "/etc/postfix-nest", "/var/spool/postfix/nest"):
        assert not host.path(path).exists(), f"{path} was written through a link or nested"
    assert host.path("/var/lib/master.lock").exists() is False and host.path("/var/lib/postfix").is_dir()
    assert host.read("/etc/postfix-half/main.cf") == "# my own main.cf\nmyhostname = half.example\n"
    assert len(list(host.path("/var/spool/postfix-out/deferred/A").iterdir())) == 1
