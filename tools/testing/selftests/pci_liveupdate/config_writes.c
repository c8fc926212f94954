// SPDX-License-Identifier: GPL-2.0
/*
 * Nothing on a preserved path is rewritten. Stage 1 has vfio-pci preserve
 * the edu behind the switch (its expansion ROM enabled: x86 turns enabled
 * ROMs off at boot) and the nvme on the first root port, each mastering,
 * and carries the 4 KiB config space of every function on their
 * paths (and of two controls) to the next kernel in a preserved memfd. The
 * second kernel boots with command-line options that make enumeration
 * write more (BAR reallocation with hotplug padding, the performance MPS
 * policy, forced ASPM).
 *
 * Stage 2 shows, before any file is retrieved: the config-write counter
 * logged no write to an incoming function, and logged writes to the
 * control testdev on the same switch (so it counts); every config byte of
 * each incoming function equals the snapshot except the masked status and
 * bridge-interrupt bits (mask_status()), while a hotplug root port off the
 * paths, whose I/O window stage 1 disabled, got one again from the
 * hotplug padding (so the options bite); no port driver binds a
 * bridge of the paths. After retrieving and opening the files the bytes
 * are checked again; after finish pcieport binds the kept root port.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pci_lu.h"
#include "vfio_lu.h"

/* The MPS policy of the second kernel (config_writes_p2p.c: peer2peer). */
#ifndef BUS_POLICY
#define BUS_POLICY	"pcie_bus_perf"
#endif
/* More pci= options (config_writes_p2p.c: rom) */
#ifndef PCI_EXTRA
#define PCI_EXTRA	""
#endif

#define CFG_SIZE	4096
#define ROM_BAR		0x30
/* PCI_DEV_SER_P_SRIOV */
#define P_SRIOV		0x20
#define SNAP_TOKEN	10
/* Watched although not preserved: shows the counter counts. */
#define CONTROL		TESTDEV_SW
/*
 * A hotplug root port off the paths (nothing below it uses I/O): its I/O
 * window is disabled before the kexec, so the padding must assign one.
 */
#define MOVED		ROOT_PORT4

/* The functions whose config space must not change, then the controls. */
static const char *const funcs[] = {
	EDU_SW, SWITCH_DN1, SWITCH_UP, ROOT_PORT2, NVME_PF, ROOT_PORT1, CONTROL, MOVED,
};

#define N_FUNCS		((int)ARRAY_SIZE(funcs))
#define N_KEPT		(N_FUNCS - 2)

static int read_config(const char *bdf, uint8_t *buf)
{
	char path[96];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	memset(buf, 0, CFG_SIZE);
	/* 256 bytes for a conventional PCI function (edu, testdev). */
	n = fread(buf, 1, CFG_SIZE, f);
	fclose(f);
	return n >= 256 ? 0 : -EIO;
}

static uint16_t rd16(const uint8_t *c, int off)
{
	return c[off] | c[off + 1] << 8;
}

static uint32_t rd32(const uint8_t *c, int off)
{
	return rd16(c, off) | (uint32_t)rd16(c, off + 2) << 16;
}

static int find_cap(const uint8_t *c, int id)
{
	int pos = c[0x34] & ~3, n = 48;

	while (pos >= 0x40 && n--) {
		if (c[pos] == id)
			return pos;
		pos = c[pos + 1] & ~3;
	}
	return 0;
}

static int find_ext_cap(const uint8_t *c, int id)
{
	int pos = 0x100, n = 480;

	while (pos >= 0x100 && pos < CFG_SIZE - 4 && n--) {
		uint32_t h = rd32(c, pos);

		if (!h || h == 0xffffffff)
			return 0;
		if ((h & 0xffff) == (uint32_t)id)
			return pos;
		pos = (h >> 20) & ~3;
	}
	return 0;
}

/*
 * Bits the hardware changes by itself or that software only clears by
 * writing 1 (status registers): not part of what a kernel configures.
 * And on a bridge, its own interrupt setup, which its port driver undoes
 * at the kexec as on any kexec and which does not touch the traffic it
 * forwards (Documentation/PCI/liveupdate.rst).
 */
static void mask_status(const uint8_t *c, uint8_t *mask)
{
	int exp = find_cap(c, 0x10), aer = find_ext_cap(c, 0x0001);
	int msi = find_cap(c, 0x05), msix = find_cap(c, 0x11);
	bool bridge = (c[0x0e] & 0x7f) == 1;

	memset(mask, 0xff, CFG_SIZE);
	mask[0x06] = 0;					/* Status */
	mask[0x07] = 0;
	if (bridge) {
		mask[0x1e] = 0;				/* Secondary Status */
		mask[0x1f] = 0;
		mask[0x05] &= ~0x04;			/* Command: INTx Disable */
		if (msi) {
			mask[msi + 2] = 0;		/* MSI Control */
			mask[msi + 3] = 0;
		}
		if (msix) {
			mask[msix + 2] = 0;		/* MSI-X Control */
			mask[msix + 3] = 0;
		}
		if (aer)
			memset(mask + aer + 0x2c, 0, 4);	/* Root Error Command */
	}
	if (exp) {
		mask[exp + 0x0a] = 0;				/* Device Status */
		mask[exp + 0x0b] = 0;
		mask[exp + 0x12] = 0;				/* Link Status */
		mask[exp + 0x13] = 0;
		mask[exp + 0x1a] = 0;				/* Slot Status */
		mask[exp + 0x1b] = 0;
		memset(mask + exp + 0x20, 0, 4);		/* Root Status */
		mask[exp + 0x32] = 0;				/* Link Status 2 */
		mask[exp + 0x33] = 0;
	}
	if (aer) {
		memset(mask + aer + 0x04, 0, 4);	/* Uncorrectable Error Status */
		memset(mask + aer + 0x10, 0, 4);	/* Correctable Error Status */
		memset(mask + aer + 0x30, 0, 8);	/* Root Error Status, Source ID */
	}
}

/* Compares @bdf's config space with @snap; logs every changed byte. */
static int config_changes(const char *bdf, const uint8_t *snap, const char *when)
{
	static uint8_t now[CFG_SIZE], mask[CFG_SIZE];
	int changed = 0;

	if (read_config(bdf, now))
		return -1;
	mask_status(snap, mask);
	for (int i = 0; i < CFG_SIZE; i++) {
		if ((snap[i] ^ now[i]) & mask[i]) {
			if (changed++ < 16)
				pci_lu_log("%s %s: config byte %#05x was %#04x, now %#04x", when,
					   bdf, i, snap[i], now[i]);
		}
	}
	return changed;
}

static bool has_driver(const char *bdf, const char *name)
{
	char drv[64];

	pci_lu_driver(bdf, drv, sizeof(drv));
	return !strcmp(drv, name);
}

static int vmm_open(struct pci_lu_ctx *ctx, const char *bdf, struct vfio_lu_dev *d)
{
	if (!CHECK(ctx, vfio_lu_bind_driver(bdf) == 0, "%s bound to vfio-pci", bdf))
		return -ENODEV;
	d->fd = vfio_lu_cdev_open(bdf);
	if (!CHECK(ctx, d->fd >= 0 && vfio_lu_attach(d) == 0, "%s open and attached", bdf))
		return -ENODEV;
	return vfio_lu_set_master(d);
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT, nvme = VFIO_LU_DEV_INIT;
	static uint8_t snap[N_FUNCS][CFG_SIZE];
	unsigned int probe = 0;
	char bars[64];
	int s, fd, ret, rom, rom_hi;

	if (vmm_open(ctx, EDU_SW, &edu) || vmm_open(ctx, NVME_PF, &nvme))
		return 1;
	for (int i = 1; i < N_KEPT; i++)
		if (strcmp(funcs[i], NVME_PF))
			CHECK(ctx, pci_lu_set_bus_master(funcs[i]) == 0, "Bus Master on %s",
			      funcs[i]);
	/* A ROM decoding as the device runs (scripts/vm -r gives it one). */
	rom = pci_lu_config_word(EDU_SW, ROM_BAR);
	rom_hi = pci_lu_config_word(EDU_SW, ROM_BAR + 2);
	CHECK(ctx, rom >= 0 && rom_hi > 0 &&
	      pci_lu_config_write_word(EDU_SW, ROM_BAR, rom | 1) == 0 &&
	      pci_lu_config_word(EDU_SW, ROM_BAR) == (rom | 1), "ROM of %s at %#x enabled",
	      EDU_SW, rom_hi << 16 | rom);
	/* I/O base above limit: the window is off. */
	CHECK(ctx, pci_lu_config_write_word(MOVED, 0x1c, 0x00f0) == 0,
	      "I/O window of %s disabled", MOVED);
	s = luo_create_session(ctx, "devices");
	CHECK(ctx, s >= 0 && luo_preserve_fd(s, edu.fd, 1) == 0 &&
	      luo_preserve_fd(s, nvme.fd, 2) == 0, "%s and %s preserved", EDU_SW, NVME_PF);
	/* The VF BAR sizes and bus span, so SR-IOV init need not write. */
	ret = pci_lu_probe_record("outgoing", NVME_PF, &probe, bars, sizeof(bars));
	CHECK(ctx, ret == 0 && (probe & P_SRIOV), "%s recorded with its SR-IOV probe (probe=%02x)",
	      NVME_PF, probe);
	/* Last: preserve itself may change nothing either. */
	for (int i = 0; i < N_FUNCS; i++)
		CHECK(ctx, read_config(funcs[i], snap[i]) == 0, "config space of %s read",
		      funcs[i]);
	fd = memfd_create("config", 0);
	CHECK(ctx, fd >= 0 && write(fd, snap, sizeof(snap)) == sizeof(snap) &&
	      luo_preserve_fd(s, fd, SNAP_TOKEN) == 0, "snapshots carried in a memfd");
	CHECK(ctx, pci_lu_stage2_cmdline("pci=" PCI_EXTRA "realloc,hpmemsize=8M,hpiosize=4K,"
					 BUS_POLICY
					 " pcie_aspm=force pcie_aspm.policy=powersupersave pcie_port_pm=force pci_liveupdate_test.watch="
					 CONTROL) == 0,
	      "second kernel gets options that make enumeration write");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT, nvme = VFIO_LU_DEV_INIT;
	static uint8_t snap[N_FUNCS][CFG_SIZE];
	int s, fd, n;

	s = luo_retrieve_session(ctx, "devices");
	fd = s >= 0 ? luo_retrieve_fd(s, SNAP_TOKEN) : -1;
	if (!CHECK(ctx, fd >= 0 && pread(fd, snap, sizeof(snap), 0) == sizeof(snap),
		   "snapshots retrieved"))
		return 1;
	close(fd);

	CHECK(ctx, !has_driver(ROOT_PORT2, "pcieport"),
	      "no port driver on %s while a device below is incoming", ROOT_PORT2);
	for (int i = 0; i < N_KEPT; i++) {
		n = pci_lu_config_writes(funcs[i]);
		CHECK(ctx, n == 0, "no config write to incoming %s before retrieve (%d)",
		      funcs[i], n);
	}
	n = pci_lu_config_writes(CONTROL);
	CHECK(ctx, n > 0, "control %s got its usual config writes (%d)", CONTROL, n);
	for (int i = 0; i < N_KEPT; i++) {
		n = config_changes(funcs[i], snap[i], "before retrieve");
		CHECK(ctx, n == 0, "config space of %s unchanged before retrieve (%d bytes)",
		      funcs[i], n);
	}
	n = config_changes(MOVED, snap[N_KEPT + 1], "control");
	CHECK(ctx, n > 0, "%s off the paths got an I/O window again (%d bytes)", MOVED, n);

	edu.fd = luo_retrieve_fd(s, 1);
	nvme.fd = luo_retrieve_fd(s, 2);
	CHECK(ctx, edu.fd >= 0 && nvme.fd >= 0 && vfio_lu_attach(&edu) == 0 &&
	      vfio_lu_attach(&nvme) == 0, "files retrieved and attached");
	for (int i = 0; i < N_KEPT; i++) {
		n = config_changes(funcs[i], snap[i], "after retrieve");
		CHECK(ctx, n == 0, "config space of %s unchanged after retrieve (%d bytes)",
		      funcs[i], n);
	}
	CHECK(ctx, luo_finish_session(s) == 0, "session finished");
	/* The port driver kept off the path binds once nothing is incoming. */
	for (int i = 0; i < 50 && !has_driver(ROOT_PORT2, "pcieport"); i++)
		vfio_lu_sleep_ms(100);
	CHECK(ctx, has_driver(ROOT_PORT2, "pcieport"), "pcieport bound %s after finish",
	      ROOT_PORT2);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
