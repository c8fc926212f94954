/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocation fault injection for the Live Update tests: failslab and
 * fail_page_alloc, limited to the calling thread (task-filter) and to
 * allocations made with the code under test on the stack (the stacktrace
 * filter, given the text range of its object from the kernel's
 * System.map, or for a module its first function and length;
 * run_vmtests.sh puts the ranges in /text_ranges).
 *
 * Disarm with fault_arm(false) before anything else: while armed, every
 * allocation of the thread that passes the filter fails.
 */
#ifndef PCI_LU_FAULT_H
#define PCI_LU_FAULT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci_lu.h"

#define FAULT_DIRS	{ "/sys/kernel/debug/failslab", "/sys/kernel/debug/fail_page_alloc" }
/* Large enough never to run out; what it drops by counts the failures. */
#define FAULT_TIMES	1000000

struct fault_range {
	unsigned long start, end;
};

/* Address of the module function @sym from /proc/kallsyms, or 0. */
static inline unsigned long fault_kallsyms(const char *sym)
{
	char line[256], name[128], type;
	unsigned long addr, found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %127s", &addr, &type, name) == 3 &&
		    (type == 't' || type == 'T') && !strcmp(name, sym) && strchr(line, '['))
			found = addr;
	fclose(f);
	return found;
}

/*
 * Text range of @name ("pci_liveupdate", "vfio_pci_liveupdate") in the
 * running kernel: as linked, moved by the KASLR offset of the anchor
 * symbol; in a module, from where its first function was loaded.
 * 0 or -errno.
 */
static inline int fault_range(const char *name, struct fault_range *r)
{
	unsigned long linked = 0, running = 0, s, e;
	char line[160], n[64], sym[96];
	FILE *f;
	int ret = -ENOENT;

	f = fopen(PCI_LU_DEBUGFS "/anchor", "r");
	if (!f)
		return -errno;
	if (fscanf(f, "%63s %lx", n, &running) != 2)
		running = 0;
	fclose(f);
	f = fopen("/text_ranges", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "anchor %lx", &linked) == 1)
			continue;
		if (sscanf(line, "%63s module %95s %lu", n, sym, &e) == 3 && !strcmp(n, name)) {
			fclose(f);
			r->start = fault_kallsyms(sym);
			r->end = r->start + e;
			return r->start && e ? 0 : -ENOENT;
		}
		if (sscanf(line, "%63s %lx %lx", n, &s, &e) == 3 && !strcmp(n, name) && s &&
		    e > s) {
			r->start = s;
			r->end = e;
			ret = 0;
		}
	}
	fclose(f);
	if (ret || !linked || !running)
		return ret ?: -ENOENT;
	r->start += running - linked;
	r->end += running - linked;
	return 0;
}

static inline int fault_write(const char *attr, const char *val)
{
	const char *dirs[] = FAULT_DIRS;
	char path[128];
	int ret;

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], attr);
		ret = pci_lu_write(path, val);
		if (ret)
			return ret;
	}
	return 0;
}

static inline int fault_target(const struct fault_range *r)
{
	char s[32], e[32];

	snprintf(s, sizeof(s), "%lu", r->start);
	snprintf(e, sizeof(e), "%lu", r->end);
	return fault_write("require-end", e) ?: fault_write("require-start", s);
}

/*
 * From now on every allocation of a thread with make-it-fail set fails
 * while code of @r is on its stack, sleeping ones and single pages
 * included. The filters go in before the probability. 0 or -errno.
 */
static inline int fault_setup(const struct fault_range *r)
{
	char times[32];

	snprintf(times, sizeof(times), "%d", FAULT_TIMES);
	return fault_write("task-filter", "Y") ?: fault_target(r) ?:
	       fault_write("stacktrace-depth", "32") ?: fault_write("ignore-gfp-wait", "N") ?:
	       pci_lu_write("/sys/kernel/debug/fail_page_alloc/min-order", "0") ?:
	       pci_lu_write("/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N") ?:
	       fault_write("space", "0") ?: fault_write("verbose", "1") ?:
	       fault_write("times", times) ?: fault_write("interval", "1") ?:
	       fault_write("probability", "100");
}

/* Arms (or disarms) injection for the calling thread. */
static inline int fault_arm(bool on)
{
	return pci_lu_write("/proc/thread-self/make-it-fail", on ? "1" : "0");
}

/* Failures injected since fault_setup(), or -errno. */
static inline long fault_injected(void)
{
	const char *dirs[] = FAULT_DIRS;
	char path[128], buf[32];
	long left = 0;

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/times", dirs[i]);
		if (pci_lu_read(path, buf, sizeof(buf)))
			return -EIO;
		left += FAULT_TIMES - atol(buf);
	}
	return left;
}

/* Arms injection for this thread: the failure count so far, or -errno. */
static inline long fault_begin(void)
{
	long before = fault_injected();

	if (before < 0)
		return before;
	return fault_arm(true) ?: before;
}

/* Disarms: the failures injected since fault_begin() gave @before. */
static inline long fault_end(long before)
{
	fault_arm(false);
	return before < 0 ? 0 : fault_injected() - before;
}

#endif /* PCI_LU_FAULT_H */
