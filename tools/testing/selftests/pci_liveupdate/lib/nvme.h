/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An NVMe canary: controller registers that only a reset or a driver's
 * probe would change. With the controller disabled, the admin queue
 * registers take any page-aligned value, and QEMU's nvme accepts enabling
 * it without touching memory until a doorbell rings.
 */
#ifndef PCI_LU_NVME_H
#define PCI_LU_NVME_H

#include <stdint.h>
#include <time.h>

#include "pci_lu.h"

#define NVME_CC		0x14
#define NVME_CSTS	0x1c
#define NVME_AQA	0x24
#define NVME_ASQ	0x28
#define NVME_ACQ	0x30

#define CANARY_AQA	0x001f001fu
#define CANARY_ASQ	0x12340000u
#define CANARY_ACQ	0x56780000u
#define CANARY_CC	0x00460001u	/* IOCQES 4, IOSQES 6, EN */

static inline uint32_t nvme_rd(volatile uint8_t *bar, int off)
{
	return *(volatile uint32_t *)(bar + off);
}

static inline void nvme_wr(volatile uint8_t *bar, int off, uint32_t v)
{
	*(volatile uint32_t *)(bar + off) = v;
}

/* Waits up to @ms for CSTS.RDY to equal @rdy. */
static inline bool nvme_wait_rdy(volatile uint8_t *bar, uint32_t rdy, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i <= ms / 10; i++) {
		if ((nvme_rd(bar, NVME_CSTS) & 1) == rdy)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Unbinds @bdf and leaves it enabled with the canary queues; 0 or -1. */
static inline int nvme_plant_canary(const char *bdf)
{
	volatile uint8_t *bar;
	int cmd;

	if (pci_lu_unbind(bdf))
		return -1;
	cmd = pci_lu_config_word(bdf, 0x04);
	if (cmd < 0 || pci_lu_config_write_word(bdf, 0x04, cmd | 0x6))
		return -1;
	bar = pci_lu_map_bar0(bdf);
	if (!bar)
		return -1;
	nvme_wr(bar, NVME_CC, 0);
	if (!nvme_wait_rdy(bar, 0, 2000))
		return -1;
	nvme_wr(bar, NVME_AQA, CANARY_AQA);
	nvme_wr(bar, NVME_ASQ, CANARY_ASQ);
	nvme_wr(bar, NVME_ASQ + 4, 0);
	nvme_wr(bar, NVME_ACQ, CANARY_ACQ);
	nvme_wr(bar, NVME_ACQ + 4, 0);
	nvme_wr(bar, NVME_CC, CANARY_CC);
	return nvme_wait_rdy(bar, 1, 2000) ? 0 : -1;
}

/* Whether @bdf still holds the canary, enabled and ready. */
static inline bool nvme_has_canary(const char *bdf)
{
	volatile uint8_t *bar = pci_lu_map_bar0(bdf);

	return bar && nvme_rd(bar, NVME_CC) == CANARY_CC &&
	       (nvme_rd(bar, NVME_CSTS) & 1) && nvme_rd(bar, NVME_AQA) == CANARY_AQA &&
	       nvme_rd(bar, NVME_ASQ) == CANARY_ASQ && nvme_rd(bar, NVME_ACQ) == CANARY_ACQ;
}

/* Waits up to @ms for @bdf to be bound to @drv. */
static inline bool wait_driver(const char *bdf, const char *drv, int ms)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	char name[64];

	for (int i = 0; i <= ms / 50; i++) {
		pci_lu_driver(bdf, name, sizeof(name));
		if (!strcmp(name, drv))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

#endif /* PCI_LU_NVME_H */
