// SPDX-License-Identifier: GPL-2.0
/*
 * `make bench`: the blackout of a Live Update. Preserves the first N edu
 * devices (pci_lu_bench=N on the command line; 64 needs the scale
 * topology) through the test handler; /init prints the TSC right before
 * reboot(RB_KEXEC), and the second kernel prints it when this program starts
 * and once every file has been retrieved. scripts/bench turns the ticks into
 * milliseconds with the rate measured here. With N = 0 it also runs on a
 * kernel without PCI_LIVEUPDATE, as the baseline. The second kernel also
 * prints the time its boot spent in the component's PCI core hooks and how
 * long the PCI core took to add each edu, incoming or not; the first
 * kernel logs the time in the shutdown hooks at reboot. Measures; asserts
 * only that the update happened.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pci_lu.h"

static int wanted(void)
{
	char buf[4096] = "";
	char *p;

	pci_lu_read("/proc/cmdline", buf, sizeof(buf));
	p = strstr(buf, "pci_lu_bench=");
	return p ? atoi(p + strlen("pci_lu_bench=")) : 0;
}

/* Time this boot spent in the component's PCI core hooks (test kernels). */
static void print_timing(void)
{
	long long calls, ns, window;
	char buf[256];

	if (pci_lu_read(PCI_LU_DEBUGFS "/timing", buf, sizeof(buf)) == 0 &&
	    sscanf(buf, "enumeration calls %lld ns %lld window_ns %lld", &calls, &ns, &window) == 3)
		printf("BENCH enumeration_hooks calls %lld ns %lld window_ns %lld\n", calls, ns,
		       window);
}

/*
 * The time from pci_setup_device() to device_add() of each edu in this
 * boot, incoming (preserved) or stock: "BENCH enum_edu incoming 123456".
 */
static void print_enumeration(void)
{
	char line[128], bdf[32], kind[16];
	long long ns;
	FILE *f = fopen(PCI_LU_DEBUGFS "/enumeration", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%31s %15s %lld", bdf, kind, &ns) == 3 && pci_lu_is_edu(bdf))
			printf("BENCH enum_edu %s %lld\n", kind, ns);
	fclose(f);
}

static int stage1(struct pci_lu_ctx *ctx)
{
	int n = wanted(), done = 0, s;
	struct dirent **names;
	int count;

	printf("BENCH devices %d tsc_per_us %.3f\n", n, pci_lu_tsc_per_us());
	s = luo_create_session(ctx, "bench");
	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	count = scandir("/sys/bus/pci/devices", &names, NULL, alphasort);
	for (int i = 0; i < count; i++) {
		const char *bdf = names[i]->d_name;

		if (done < n && bdf[0] != '.' && pci_lu_is_edu(bdf) &&
		    pci_lu_set_bus_master(bdf) == 0 && pci_lu_preserve(s, bdf, done + 1) == 0)
			done++;
		free(names[i]);
	}
	free(names);
	CHECK(ctx, done == n, "%d of %d devices preserved", done, n);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	unsigned long long start = pci_lu_tsc(), end;
	int n = wanted(), got = 0, s;

	s = luo_retrieve_session(ctx, "bench");
	for (int t = 1; s >= 0 && t <= n; t++)
		got += luo_retrieve_fd(s, t) >= 0;
	end = pci_lu_tsc();
	printf("BENCH tsc_stage2_start %llu tsc_retrieved %llu\n", start, end);
	print_timing();
	print_enumeration();
	CHECK(ctx, s >= 0 && got == n, "%d of %d devices retrieved", got, n);
	CHECK(ctx, luo_finish_session(s) == 0, "finish");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
