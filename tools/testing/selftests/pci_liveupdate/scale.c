// SPDX-License-Identifier: GPL-2.0
/*
 * Scale: the VM gets 64 more edu endpoints (scripts/vm -x: eight root ports,
 * each with a switch of eight downstream ports). All of them, mastering,
 * are preserved; the table grows past its first allocation on the way. The
 * second kernel, booted with pci=assign-busses,hpbussize=8, must give every
 * one of them back incoming and mastering, with every bridge above them
 * numbered as before, and the session must finish. As a control, the same
 * command line then numbers a never-preserved root port anew when it is
 * found again by a rescan.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pci_lu.h"

#define WANT		64
#define MAX_BRIDGES	(8 + 8 + WANT)	/* root ports, switch up and down ports */
#define DATA_TOKEN	1000

/* What stage 1 hands to stage 2 in a preserved memfd. */
struct scale_data {
	int n_dev, n_br;
	char dev[WANT][16];
	char br[MAX_BRIDGES][16];
	int triple[MAX_BRIDGES];
};

static void add_bridge(struct scale_data *d, const char *bdf)
{
	for (int i = 0; i < d->n_br; i++)
		if (!strcmp(d->br[i], bdf))
			return;
	if (d->n_br < MAX_BRIDGES)
		snprintf(d->br[d->n_br++], 16, "%s", bdf);
}

/* Every bridge on the sysfs path of @bdf. */
static void add_path(struct scale_data *d, const char *bdf)
{
	char link[PATH_MAX], path[128], *p, *save;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	if (!realpath(path, link))
		return;
	for (p = strtok_r(link, "/", &save); p; p = strtok_r(NULL, "/", &save))
		if (strlen(p) == 12 && p[4] == ':' && p[7] == ':' && strcmp(p, bdf))
			add_bridge(d, p);
}

static int stage1(struct pci_lu_ctx *ctx)
{
	static struct scale_data d;
	int n, s, fd, first_cap = -1, ok = 0;

	d.n_dev = pci_lu_scale_edus(d.dev, WANT);
	if (!CHECK(ctx, d.n_dev == WANT, "%d extra edu endpoints (want %d)", d.n_dev, WANT))
		return 1;
	for (int i = 0; i < d.n_dev; i++)
		add_path(&d, d.dev[i]);
	CHECK(ctx, d.n_br == MAX_BRIDGES, "%d bridges above them (want %d)", d.n_br, MAX_BRIDGES);
	for (int i = 0; i < d.n_br; i++) {
		d.triple[i] = pci_lu_bus_triple(d.br[i]);
		ok += pci_lu_set_bus_master(d.br[i]) == 0;
	}
	CHECK(ctx, ok == d.n_br, "Bus Master on all %d bridges", d.n_br);

	s = luo_create_session(ctx, "scale");
	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	ok = 0;
	for (int i = 0; i < d.n_dev; i++) {
		ok += pci_lu_set_bus_master(d.dev[i]) == 0 &&
		      pci_lu_preserve(s, d.dev[i], i + 1) == 0;
		if (i == 0)
			first_cap = pci_lu_capacity();
	}
	CHECK(ctx, ok == d.n_dev, "all %d endpoints mastering and preserved", d.n_dev);
	n = pci_lu_table("outgoing", NULL, 0);
	CHECK(ctx, n == d.n_dev + d.n_br, "outgoing table holds %d entries (%d)",
	      d.n_dev + d.n_br, n);
	CHECK(ctx, first_cap > 0 && pci_lu_capacity() >= n && pci_lu_capacity() > first_cap,
	      "the table grew past its first allocation (%d -> %d entries)", first_cap,
	      pci_lu_capacity());

	fd = memfd_create("scale-data", 0);
	CHECK(ctx, fd >= 0 && write(fd, &d, sizeof(d)) == sizeof(d) &&
	      luo_preserve_fd(s, fd, DATA_TOKEN) == 0, "device list handed to stage 2");
	/* hpbussize: stock numbering would reserve buses below hotplug ports. */
	CHECK(ctx, pci_lu_stage2_cmdline("pci=assign-busses,hpbussize=8") == 0,
	      "second kernel gets pci=assign-busses,hpbussize=8");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	static struct scale_data d;
	int s, fd, incoming = 0, bm = 0, buses = 0, back = 0;

	s = luo_retrieve_session(ctx, "scale");
	fd = s >= 0 ? luo_retrieve_fd(s, DATA_TOKEN) : -ENOENT;
	if (!CHECK(ctx, fd >= 0 && pread(fd, &d, sizeof(d), 0) == sizeof(d) && d.n_dev == WANT,
		   "device list from stage 1"))
		return 1;
	for (int i = 0; i < d.n_dev; i++) {
		incoming += pci_lu_incoming(d.dev[i]) == 1;
		bm += pci_lu_bus_master(d.dev[i]) == 1 &&
		      pci_lu_status_field(d.dev[i], "bm_at_enum") == 1;
	}
	for (int i = 0; i < d.n_br; i++) {
		int t = pci_lu_bus_triple(d.br[i]);

		if (t == d.triple[i])
			buses++;
		else
			pci_lu_log("%s buses %06x, was %06x", d.br[i], t, d.triple[i]);
	}
	CHECK(ctx, incoming == d.n_dev, "%d of %d endpoints incoming", incoming, d.n_dev);
	CHECK(ctx, bm == d.n_dev, "%d of %d arrived and stay with Bus Master", bm, d.n_dev);
	CHECK(ctx, buses == d.n_br, "%d of %d bridges kept their bus numbers", buses, d.n_br);
	for (int i = 0; i < d.n_dev; i++)
		back += luo_retrieve_fd(s, i + 1) >= 0;
	CHECK(ctx, back == d.n_dev, "%d of %d files retrieved", back, d.n_dev);
	CHECK(ctx, luo_finish_session(s) == 0, "session finishes");
	CHECK(ctx, pci_lu_incoming_count() == 0, "nothing incoming after finish (%d)",
	      pci_lu_incoming_count());

	/*
	 * Control: the same command line numbers a bridge anew once the update
	 * is over. The root port of the control nvme, never preserved, is
	 * removed and found again: it gets the next free bus and hpbussize
	 * spare buses instead of the firmware's 08-08.
	 */
	CHECK(ctx, pci_lu_bus_triple(ROOT_PORT5) == 0x080800, "%s has the firmware's buses",
	      ROOT_PORT5);
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" ROOT_PORT5 "/remove", "1") == 0 &&
	      pci_lu_write("/sys/bus/pci/rescan", "1") == 0, "remove and rescan %s", ROOT_PORT5);
	{
		int sec = 0, sub = 0;

		CHECK(ctx, pci_lu_bridge_buses(ROOT_PORT5, &sec, &sub) == 0 && sec != 8 &&
		      sub - sec + 1 >= 8, "control %s renumbered to %02x-%02x", ROOT_PORT5, sec,
		      sub);
	}
	return 0;
}

PCI_LU_TEST(stage1, stage2)
