# SPDX-License-Identifier: GPL-2.0
#
# PCI Live Update in Rust. The two commands:
#   make check   host tests, kernel build, lint, KUnit and every kexec selftest
#   make demo    boot QEMU, preserve a device through LUO, kexec, show before/after
#   make stress  the kexec selftests again on a lockdep/KCSAN/KFENCE/kmemleak kernel
#   make bench   what a Live Update costs (prints numbers, asserts nothing)
#   make patches the upstream patch series (patches/series) as git format-patch files
# Outputs live in $(PCI_LU_CACHE) (default ~/.cache/pci-liveupdate).

SHELL := /bin/bash
export PCI_LU_CACHE ?= $(HOME)/.cache/pci-liveupdate
SELFTESTS := tools/testing/selftests/pci_liveupdate
# Per-VM timeout in seconds, and tests to run (default: all).
VM_TIMEOUT ?= 300
TESTS ?=
FUZZ_SECONDS ?= 60

# One build dir, one cache and two cores: targets never run in parallel
# (make -j would build the series in lint while VMs boot the kernel).
.NOTPARALLEL:

timed = @start=$$(date +%s); $(1); rc=$$?; \
	echo "==> $(2) took $$(( $$(date +%s) - start ))s"; exit $$rc

.PHONY: check demo deps fetch integrate kernel host-test host-lint lint kunit vmtest bench stress fuzz patches clean help

help:
	@sed -n 's/^#   //p' Makefile
	@echo "finer targets: deps fetch kernel host-test lint kunit vmtest fuzz"

check: host-test fuzz kernel lint vmtest
	@echo "==> make check: all passed"

deps:
	$(call timed,scripts/deps,deps)

fetch: deps
	$(call timed,scripts/fetch-kernel,fetch)

integrate: fetch
	@scripts/integrate

kernel: integrate
	$(call timed,scripts/configure && scripts/build,kernel build)

host-test: deps
	$(call timed,scripts/host-test,host tests)

lint: kernel
	$(call timed,scripts/lint,lint)

kunit: kernel
	$(call timed,$(SELFTESTS)/run_vmtests.sh -k -T $(VM_TIMEOUT),KUnit)

# KUnit runs as one more VM in the same KTAP run.
vmtest: kernel
	$(call timed,$(SELFTESTS)/run_vmtests.sh -K $(if $(TESTS),,-S) -T $(VM_TIMEOUT) $(foreach t,$(TESTS),-t $(t)),kexec selftests)

demo: kernel
	@scripts/demo

bench: kernel
	@scripts/bench

stress: kernel
	$(call timed,scripts/stress $(TESTS),stress)

fuzz: deps
	$(call timed,scripts/fuzz $(FUZZ_SECONDS),fuzz)

# PATCHES_CHECK=1 also applies the series with git am and builds it twice.
patches: kernel
	$(call timed,scripts/patches $(if $(PATCHES_CHECK),--check),patches)

clean:
	cargo clean
	rm -rf $(PCI_LU_CACHE)/out
