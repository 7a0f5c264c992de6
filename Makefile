# mailops.postfix_multi - the one entry point for every check.
#
#   make test         everything CI runs (.ci/run): deps, venv, lint, sanity, units, integration
#   make deps         Debian packages (tools/apt-deps; needs root)
#   make venv         .venv with the pinned toolchain (requirements/test-$(CORE).txt)
#   make lint         ruff, ruff format, vermin (target Python), mypy, yamllint, ansible-lint,
#                     antsibull-changelog lint
#   make sanity       ansible-test sanity on a copy of the collection under .build/sanity
#   make units        pytest tests/unit
#   make lab          build the lab's base roots of Debian 11, 12 and 13 at once (cached; needs root)
#   make integration  pytest tests/integration (needs root): chroot hosts of Debian 12 and booted
#                     Debian 11/12/13 hosts over ssh (test_systemd_hosts.py)
#   make releases     the life-cycle integration tests again on chroot hosts of Debian 11 and 13
#   make matrix       the table of releases x kinds of host that the run tested (make test prints it)
#   make docs         antsibull-docs lint of plugin/role/extra docs, then the docsite built to HTML
#                     (.build/docs/build/html), failing on any warning; installs what it needs (deps,
#                     the release venv)
#   make release      ansible-galaxy collection build (.build/release/*.tar.gz), its contents,
#                     galaxy-importer on it, and the installed tarball run from a clean collections path
#   make ee           the execution environment metadata (meta/execution-environment.yml, bindep.txt,
#                     requirements.txt) as ansible-builder reads it from the built tarball (tools/ee-check)
#   make core217      tests/unit and one integration smoke test on ansible-core 2.17 (.venv-2.17)
#   make core-newest  the newest ansible-core (2.21, requirements/test-2.21.txt), which needs a controller
#                     Python >= 3.12, in a throw-away clone of the Debian 13 lab root (Python 3.13): tests/unit,
#                     ansible-test sanity and the smoke playbook tests/integration/core-newest/smoke.yml
#                     (tools/core-newest; needs root; its venv and packages cached in .build/core-newest)
#   make sanity-py39  ansible-test sanity's per-Python tests (compile, import) on Python 3.9, the Debian 11
#                     lab root's python3.9 run from this machine (tools/sanity-py39; needs root)
#   make changelog    regenerate CHANGELOG.md (a preview of the coming release, see tools/changelog-preview)
#   make molecule     the Molecule scenarios in extensions/molecule on throw-away lab hosts (needs root)
#   make demo         a lab of 3 booted hosts (Debian 11, 12, 13; systemd, ssh), the example design
#                     rolled out, the status table (needs root; DEMO_BOOT=no: chroot hosts instead)
#   make demo-clean   stop and remove the demo lab
#   make lock         regenerate requirements/test-$(CORE).txt from requirements/test-$(CORE).in
#   make lock-newest  the same for requirements/test-2.21.txt, with pip run inside the Debian 13 lab root
#
# Each target fails on the first error. `make test` runs them in this order and ends
# with a summary.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test
MAKEFLAGS += --no-builtin-rules --no-print-directory

# ansible-core series the toolchain is pinned for.
CORE := 2.19
PYTHON ?= python3
VENV := .venv
REQS_IN := requirements/test-$(CORE).in
REQS := requirements/test-$(CORE).txt
# The venv is reused while the requirements file is unchanged.
STAMP := $(VENV)/.installed-$(shell sha256sum $(REQS) | cut -c1-16)
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)

COLLECTIONS := .build/collections
LINK := $(COLLECTIONS)/ansible_collections/mailops/postfix_multi
SANITY_ROOT := .build/sanity/ansible_collections/mailops/postfix_multi
# Python that ansible-test runs the sanity tests with (the venv's).
SANITY_PYTHON = $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# pip version whose bootstrap script ansible-test wants (get_pip_<ver>.py in its cache).
GET_PIP_VERSION = $(shell $(BIN)/python -c 'import types; from ansible_test._internal.python_requirements import get_venv_packages as g; print(g(types.SimpleNamespace(version="$(SANITY_PYTHON)"))["pip"])')
GET_PIP_CACHE = $(HOME)/.ansible/test/cache/get_pip_$(subst .,_,$(GET_PIP_VERSION)).py

# pip warns once per package about extra index directories that this machine's pip
# configuration names but that do not exist; that says nothing about our install.
PIP_NOISE := is ignored: it is neither a file nor a directory
RUFF_PATHS = $(wildcard plugins tests tools benchmarks)
PYTEST_ARGS ?=
GATES := lint sanity sanity-py39 units integration releases docs release ee core217 core-newest molecule
# The Debian releases the lab hosts run (tools/lab), and the ones every platform claim rests on.
RELEASES := bullseye,bookworm,trixie
# Besides Debian 12 (the whole suite), the life-cycle differential against the real postmulti and
# postconf runs again on chroot hosts of these releases.
EXTRA_RELEASES := bullseye trixie
RELEASE_TESTS := tests/integration/test_postfix_multi_init.py tests/integration/test_postfix_instance.py \
    tests/integration/test_oracle_parity.py tests/integration/test_postfix_instance_errors.py \
    tests/integration/test_instance_configuration.py::test_set_change_remove_exclusive \
    tests/integration/test_instance_configuration.py::test_master_add_change_remove \
    tests/integration/test_value_check.py

# Documentation and release tools (antsibull-docs, Sphinx, galaxy-importer) have their own venv:
# galaxy-importer pins attrs<24, which the test toolchain cannot share.
REL_VENV := .venv-release
REL_REQS := requirements/release-$(CORE).txt
REL_STAMP := $(REL_VENV)/.installed-$(shell sha256sum $(REL_REQS) | cut -c1-16)
REL_BIN := $(CURDIR)/$(REL_VENV)/bin
# The oldest ansible-core we support (meta/runtime.yml requires_ansible), in a second venv.
CORE_MIN := 2.17
MIN_VENV := .venv-$(CORE_MIN)
MIN_REQS := requirements/test-$(CORE_MIN).txt
MIN_STAMP := $(MIN_VENV)/.installed-$(shell sha256sum $(MIN_REQS) | cut -c1-16)
# The smoke test core217 runs with that venv's ansible (the harness uses the one next to sys.executable).
MIN_SMOKE := tests/integration/test_core_smoke.py
# A copy of the collection as git sees it, with the coming release's changelog prepared (docs, changelog).
STAGE_ROOT := .build/stage
STAGE := $(STAGE_ROOT)/ansible_collections/mailops/postfix_multi
VERSION = $(shell sed -n 's/^version:[[:space:]]*//p' galaxy.yml)
TARBALL = .build/release/mailops-postfix_multi-$(VERSION).tar.gz

.PHONY: test deps venv collection-link lint sanity units lab integration releases matrix lock
.PHONY: venv-release venv-$(CORE_MIN) stage changelog docs release core217 molecule demo demo-clean bench

# Ansible runs outside pytest (molecule, demo) find this collection through the .build link and
# community.general (the chroot connection of the lab hosts) in the venv.
SITE_PACKAGES = $(shell $(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ANSIBLE_RUN_ENV = ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS):$(SITE_PACKAGES) ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=False
DEMO := .build/demo
DEMO_HOSTS := 3
DEMO_BOOT ?= yes

test: deps venv
	@rm -rf .build/matrix
	@summary=(); \
	for gate in $(GATES); do \
	    start=$$(date +%s); \
	    echo "=================== make $$gate ==================="; \
	    rm -f .build/$$gate.skipped; \
	    if $(MAKE) $$gate; then \
	        if [ -f .build/$$gate.skipped ]; then \
	            summary+=("  $$gate: SKIPPED ($$(cat .build/$$gate.skipped))"); \
	        else \
	            summary+=("  $$gate: ok ($$(( $$(date +%s) - start ))s)"); \
	        fi; \
	    else \
	        rc=$$?; \
	        summary+=("  $$gate: FAILED (exit $$rc)"); \
	        echo "=================== summary ==================="; \
	        printf '%s\n' "$${summary[@]}"; \
	        echo "make test: FAILED at $$gate"; \
	        exit $$rc; \
	    fi; \
	done; \
	echo "=================== summary ==================="; \
	printf '%s\n' "$${summary[@]}"; \
	$(MAKE) matrix; \
	echo "make test: all gates passed"

deps:
	bash tools/apt-deps

venv: $(STAMP)

$(STAMP): $(REQS)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(REQS) 2>&1 | { grep -v -e "$(PIP_NOISE)" || true; }
	$(BIN)/python -m pip check
	touch $@

collection-link:
	@mkdir -p $(dir $(LINK))
	@[ -L $(LINK) ] || ln -sfn $(CURDIR) $(LINK)

lint: venv collection-link
	ruff check $(RUFF_PATHS)
	ruff format --check $(RUFF_PATHS)
	@# Modules and module_utils run on the managed hosts: they may need no Python newer than the
	@# oldest target Python of requires_ansible's ansible-core (2.17: 3.7). Annotations are not
	@# evaluated there (from __future__ import annotations); a `# novermin` line is excluded.
	vermin --no-config-file --target=3.7- --violations --no-tips --no-eval-annotations --no-make-paths-absolute \
	    plugins/modules plugins/module_utils
	@# mypy names files by their path through the .build symlink; print them repo-relative.
	mypy | sed 's#^$(LINK)/##'
	yamllint --strict .
	@# ansible-lint's syntax check resolves the collection's own modules and roles through the link.
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) ansible-lint --profile production --nocolor
	antsibull-changelog lint

sanity: deps venv
	@# The sanity ignore files must stay empty: fix the code instead.
	@for f in tests/sanity/ignore-*.txt; do \
	    if [ -s "$$f" ]; then echo "sanity: FAILED - $$f is not empty:"; cat "$$f"; exit 1; fi; \
	done
	rm -rf $(SANITY_ROOT)
	mkdir -p $(SANITY_ROOT)
	@# ansible-test needs the collection at .../ansible_collections/<ns>/<name> as a real
	@# directory (it resolves symlinks), so copy what git would see: tracked files plus
	@# untracked files that are not ignored.
	git ls-files -z --cached --others --exclude-standard \
	    | rsync -a --from0 --files-from=- --ignore-missing-args ./ $(SANITY_ROOT)/
	@# ansible-test asks git for the file list, walking up to the nearest .git; without
	@# one in the copy it would find this repo's, where .build/ is ignored, and test nothing.
	git -C $(SANITY_ROOT) init -q
	@# The test machines cannot download ansible-test's get-pip script: give it ours.
	install -D -m 0644 tools/get_pip_offline.py $(GET_PIP_CACHE)
	cd $(SANITY_ROOT) && ansible-test sanity --venv --python $(SANITY_PYTHON) --color no

units: venv collection-link
	@[ -d tests/unit ] || { echo "units: FAILED - tests/unit does not exist"; exit 1; }
	pytest tests/unit -n 2 $(PYTEST_ARGS) || { rc=$$?; \
	    if [ $$rc -eq 5 ]; then echo "units: FAILED - pytest collected no tests in tests/unit"; fi; exit $$rc; }

# The lab's base roots, built in parallel (each waits on the network); cached in /var/cache/mailops-lab.
lab:
	tools/lab build-all --release $(RELEASES)

integration: venv collection-link lab
	@mkdir -p .build; rm -f .build/integration.skipped
	@if [ -d tests/integration ] && [ -n "$$(find tests/integration -name 'test_*.py' -o -name '*_test.py' | head -n1)" ]; then \
	    echo "integration: running pytest tests/integration"; \
	    pytest tests/integration $(PYTEST_ARGS) || { rc=$$?; \
	        if [ $$rc -eq 5 ]; then echo "integration: FAILED - pytest collected no tests in tests/integration"; fi; exit $$rc; }; \
	else \
	    echo "integration: SKIPPED - tests/integration has no test files (test_*.py) yet; nothing was run"; \
	    echo "tests/integration has no test files yet" > .build/integration.skipped; \
	fi

# The same life-cycle tests on chroot hosts of the other releases (Postfix 3.5 and 3.10, Python 3.9 and 3.13).
releases: venv collection-link lab
	@for release in $(EXTRA_RELEASES); do \
	    echo "releases: $(RELEASE_TESTS) on $$release"; \
	    MAILOPS_LAB_RELEASE=$$release pytest $(RELEASE_TESTS) $(PYTEST_ARGS) || exit $$?; \
	done

# Every release must have passed tests both in a chroot and booted over ssh.
matrix:
	@tools/matrix print --require $(RELEASES)

venv-release: $(REL_STAMP)

$(REL_STAMP): $(REL_REQS)
	rm -rf $(REL_VENV)
	$(PYTHON) -m venv $(REL_VENV)
	$(REL_BIN)/python -m pip install --quiet --disable-pip-version-check -r $(REL_REQS) 2>&1 | { grep -v -e "$(PIP_NOISE)" || true; }
	$(REL_BIN)/python -m pip check
	touch $@

venv-$(CORE_MIN): $(MIN_STAMP)

$(MIN_STAMP): $(MIN_REQS)
	rm -rf $(MIN_VENV)
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(MIN_REQS) 2>&1 | { grep -v -e "$(PIP_NOISE)" || true; }
	$(MIN_VENV)/bin/python -m pip check
	touch $@

# deps: the copy is made with rsync, a Debian package (tools/apt-deps) that a fresh machine lacks.
stage: deps venv-release
	rm -rf $(STAGE_ROOT)
	mkdir -p $(STAGE)
	git ls-files -z --cached --others --exclude-standard \
	    | rsync -a --from0 --files-from=- --ignore-missing-args ./ $(STAGE)/
	@# antsibull-changelog lists the collection's files with git (vcs: auto); inside this repo's
	@# ignored .build/ it would find none, and no plugin: give the copy a repository of its own.
	git -C $(STAGE) init -q
	PATH=$(REL_BIN):$$PATH tools/changelog-preview $(STAGE)

changelog: stage
	cp $(STAGE)/CHANGELOG.md CHANGELOG.md
	@echo "changelog: CHANGELOG.md regenerated; commit it"

docs: venv-release collection-link stage
	@# plugin, role and extra docs (docs/docsite/) and the references between them, as in the repo
	PATH=$(REL_BIN):$$PATH ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=False \
	    antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs .
	PATH=$(REL_BIN):$$PATH tools/docsite $(STAGE_ROOT) .build/docs

release: venv venv-release collection-link stage
	rm -rf .build/release
	mkdir -p .build/release
	ansible-galaxy collection build --output-path .build/release .
	@# A fragment added without `make changelog` only makes the repository's preview stale: say so.
	@cmp -s CHANGELOG.md $(STAGE)/CHANGELOG.md \
	    || echo "release: NOTE - CHANGELOG.md is behind changelogs/fragments: run 'make changelog' and commit it"
	PATH=$(REL_BIN):$$PATH tools/galaxy-import $(TARBALL) .build/release/importer
	MAILOPS_RELEASE_TARBALL=$(CURDIR)/$(TARBALL) pytest tests/release $(PYTEST_ARGS)

# Execution environments: ansible-builder (its own venv, .build/ee-venv, from requirements/ee.txt)
# writes a build context for the built tarball; its collection install and introspection must find
# exactly what meta/execution-environment.yml declares. No container runtime needed.
.PHONY: ee
ee:
	PYTHON=$(PYTHON) tools/ee-check

core217: venv-$(CORE_MIN) collection-link
	$(MIN_VENV)/bin/python -c 'import ansible.release as r; print("core217: ansible-core", r.__version__)'
	$(CURDIR)/$(MIN_VENV)/bin/python -m pytest tests/unit -n 2 $(PYTEST_ARGS)
	$(CURDIR)/$(MIN_VENV)/bin/python -m pytest $(MIN_SMOKE) $(PYTEST_ARGS)

# The newest ansible-core series: its controller needs Python >= 3.12, which this Debian 12 machine
# lacks, so tools/core-newest runs units, sanity and a smoke playbook in a clone of the Debian 13 root.
CORE_NEWEST := 2.21
.PHONY: core-newest sanity-py39 lock-newest
core-newest:
	CORE_NEWEST=$(CORE_NEWEST) PYTEST_ARGS="$(PYTEST_ARGS)" tools/core-newest run

# compile and import, the sanity tests that depend on the target Python, on Debian 11's Python 3.9.
sanity-py39: venv
	BIN=$(BIN) tools/sanity-py39

lock-newest:
	CORE_NEWEST=$(CORE_NEWEST) tools/core-newest lock

# The Molecule scenarios (extensions/molecule/*): lab hosts made and removed by each scenario.
# Each scenario's outcome goes into the test matrix, once per release its hosts run.
molecule: venv collection-link lab
	@for scenario in default fleet systemd; do \
	    case $$scenario in systemd) releases="$(RELEASES)"; connection=ssh;; *) releases=bookworm; connection=chroot;; esac; \
	    if (cd extensions && $(ANSIBLE_RUN_ENV) molecule test -s $$scenario); then outcome=passed; else outcome=failed; fi; \
	    for release in $${releases//,/ }; do \
	        tools/matrix record --suite molecule --test $$scenario --release $$release --connection $$connection --outcome $$outcome; \
	    done; \
	    [ $$outcome = passed ] || { echo "molecule: scenario $$scenario FAILED"; exit 1; }; \
	done

# The main job in one command: 3 lab hosts, the example design rolled out, the status table.
# The hosts boot with systemd and are reached over ssh, one per Debian release (DEMO_BOOT=no: chroots
# of Debian 12 instead, as before; the same design and playbooks).
# The speed benchmarks of README.md ("Benchmarks"): tables, no assertions; not part of make test.
bench: venv collection-link lab
	benchmarks/converge
	$(VENV)/bin/python benchmarks/bench_registry.py --sizes 10,100,500,1000

demo: deps venv collection-link
	@if [ "$(DEMO_BOOT)" = yes ]; then lab_args="--boot --release $(RELEASES)"; else lab_args=""; fi; \
	    tools/lab up $(DEMO_HOSTS) --prefix demo $$lab_args --inventory $(DEMO)/inventory/hosts.yml
	$(ANSIBLE_RUN_ENV) ansible-playbook -i $(DEMO)/inventory -e @extensions/demo/vars/design.yml mailops.postfix_multi.rollout
	$(ANSIBLE_RUN_ENV) ansible-playbook -i $(DEMO)/inventory -e @extensions/demo/vars/design.yml \
	    -e postfix_multi_status_report=$(CURDIR)/$(DEMO)/status mailops.postfix_multi.status > $(DEMO)/status.log
	@echo; cat $(DEMO)/status.md
	@echo; echo "demo: reports in $(DEMO)/status.md and $(DEMO)/status.html; inventory $(DEMO)/inventory; remove with make demo-clean"

demo-clean:
	@# tools/lab down stops what runs in the hosts (SIGTERM, as "postfix stop" does) and removes their addresses
	tools/lab down --prefix demo
	rm -rf $(DEMO)

# Regenerate the complete pinned set from the top-level pins (needs the package index).
lock:
	rm -rf .build/lock-venv
	$(PYTHON) -m venv .build/lock-venv
	.build/lock-venv/bin/python -m pip install --quiet --disable-pip-version-check -r $(REQS_IN) 2>&1 | { grep -v -e "$(PIP_NOISE)" || true; }
	{ echo "# Complete pinned toolchain for ansible-core $(CORE): generated by 'make lock' from $(REQS_IN)."; \
	  echo "# Do not edit by hand; change $(REQS_IN) and run 'make lock'."; \
	  .build/lock-venv/bin/python -m pip freeze --all --exclude-editable | grep -v -E '^(pip|setuptools|wheel)=='; } > $(REQS)
	rm -rf .build/lock-venv
