// SPDX-License-Identifier: GPL-2.0
/*
 * Refused handover data keeps bus numbers only through the initial
 * enumeration. Stage 1 preserves the edu 04:00.0 and damages the table's
 * magic. Stage 2 refuses the data; after boot, the root port above the
 * e1000e has its bus numbers cleared and is removed and found again by a
 * rescan: the kernel must number it as a stock kernel does and find the
 * e1000e below it, instead of refusing to number the bridge.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "pci_lu.h"

/* Whether some device below a bus other than 06 is the e1000e (8086:10d3). */
static bool e1000e_found(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *de;
	char path[300], v[16];
	bool found = false;

	while (d && (de = readdir(d)) && !found) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", de->d_name);
		if (de->d_name[0] != '.' && !pci_lu_read(path, v, sizeof(v)) &&
		    !strncmp(v, "0x10d3", 6))
			found = true;
	}
	if (d)
		closedir(d);
	return found;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	int s = luo_create_session(ctx, "devices");

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	CHECK(ctx, pci_lu_preserve(s, EDU_SW, 1) == 0, "preserve %s", EDU_SW);
	CHECK(ctx, pci_lu_inject(PCI_LU_TEST_CORRUPT_MAGIC) == 0, "damage the table's magic");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int sub = pci_lu_config_word(ROOT_PORT3, 0x1a);
	int sec, subo;

	CHECK(ctx, pci_lu_dmesg_has("invalid handover data from the previous kernel (bad magic"),
	      "kernel refused the handover data");
	CHECK(ctx, pci_lu_incoming_count() == 0, "no device is incoming");
	CHECK(ctx, pci_lu_dmesg_has("initial enumeration done: bus numbers are no longer kept"),
	      "kernel logged that bus numbers are no longer kept");
	CHECK(ctx, e1000e_found(), "e1000e present at boot");

	/* A bridge whose numbers are gone must be numbered again, as stock. */
	CHECK(ctx, sub >= 0 && pci_lu_config_write_word(ROOT_PORT3, 0x18, 0) == 0 &&
	      pci_lu_config_write_word(ROOT_PORT3, 0x1a, sub & 0xff00) == 0,
	      "bus numbers of %s cleared", ROOT_PORT3);
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" ROOT_PORT3 "/remove", "1") == 0,
	      "remove %s", ROOT_PORT3);
	CHECK(ctx, !e1000e_found(), "e1000e gone with it");
	CHECK(ctx, pci_lu_write("/sys/bus/pci/rescan", "1") == 0, "rescan");
	CHECK(ctx, pci_lu_bridge_buses(ROOT_PORT3, &sec, &subo) == 0 && sec > 0 && subo >= sec,
	      "%s numbered again by the rescan", ROOT_PORT3);
	CHECK(ctx, !pci_lu_dmesg_has("cannot assign bus numbers during a Live Update"),
	      "no bridge refused");
	CHECK(ctx, e1000e_found(), "e1000e found again below %s", ROOT_PORT3);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
