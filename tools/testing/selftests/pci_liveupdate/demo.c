// SPDX-License-Identifier: GPL-2.0
/*
 * `make demo`: a VMM's Live Update of two vfio-pci devices. The edu behind
 * the switch and the nvme on the first root port are bound to vfio-pci,
 * opened through their cdevs, bound to iommufd, given Bus Master, and the
 * nvme gets admin-queue registers only a reset would clear. Their VFIO files
 * are preserved in a LUO session; the other edu also masters but is not
 * preserved. The PCI topology (bus numbers, Bus Master now and at boot,
 * driver, preserved status) is printed before and after the kexec, then the
 * files are retrieved, bound again, and shown working: edu DMA through the
 * IOMMU and the nvme registers read through VFIO.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvme.h"
#include "pci_lu.h"
#include "vfio_lu.h"

#define DEMO_IOVA	0x100000

static const char *const stage_name[] = { "", "first ", "second" };

static void report(struct pci_lu_ctx *ctx)
{
	struct dirent **names;
	int n = scandir("/sys/bus/pci/devices", &names, NULL, alphasort);

	printf("DEMO %s kernel: %-13s %-9s %-7s %-3s %-8s %-10s %s\n",
	       stage_name[ctx->stage], "device", "id", "buses", "BM",
	       "BM@boot", "driver", "incoming");
	for (int i = 0; i < n; i++) {
		const char *bdf = names[i]->d_name;
		char path[PATH_MAX], link[PATH_MAX] = "-", buses[16] = "";
		int cmd, sec, sub, vid, did;
		ssize_t l;

		if (bdf[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
		l = readlink(path, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = '\0';
			memmove(link, strrchr(link, '/') + 1, strlen(strrchr(link, '/')));
		}
		cmd = pci_lu_config_word(bdf, 0x04);
		vid = pci_lu_config_word(bdf, 0x00);
		did = pci_lu_config_word(bdf, 0x02);
		if ((pci_lu_config_word(bdf, 0x0e) & 0x7f) == 1 &&
		    !pci_lu_bridge_buses(bdf, &sec, &sub))
			snprintf(buses, sizeof(buses), "%02x-%02x", sec, sub);
		printf("DEMO %s kernel: %-13s %04x:%04x %-7s %-3s %-8s %-10s %s\n",
		       stage_name[ctx->stage], bdf, vid, did, buses,
		       cmd & 0x4 ? "on" : "off",
		       ctx->stage == 1 ? "-" :
		       pci_lu_status_field(bdf, "bm_at_enum") == 1 ? "on" : "off", link,
		       pci_lu_incoming(bdf) == 1 ? "yes" : "no");
		free(names[i]);
	}
	free(names);
}

static void show_nvme(struct pci_lu_ctx *ctx, struct vfio_lu_dev *d, const char *when)
{
	printf("DEMO %s kernel: %s nvme registers %s: CC %08x CSTS %08x AQA %08x ASQ %08x ACQ %08x (%s)\n",
	       stage_name[ctx->stage], NVME_PF, when, vfio_lu_bar_rd(d, NVME_CC),
	       vfio_lu_bar_rd(d, NVME_CSTS), vfio_lu_bar_rd(d, NVME_AQA),
	       vfio_lu_bar_rd(d, NVME_ASQ), vfio_lu_bar_rd(d, NVME_ACQ),
	       vfio_lu_bar_rd(d, NVME_ASQ) == CANARY_ASQ ? "canary" : "no canary");
}

static int open_vfio(struct pci_lu_ctx *ctx, const char *bdf, struct vfio_lu_dev *d)
{
	d->fd = vfio_lu_bind_driver(bdf) ?: vfio_lu_cdev_open(bdf);
	return CHECK(ctx, d->fd >= 0 && vfio_lu_attach(d) == 0 && vfio_lu_set_master(d) == 0,
		     "%s: vfio-pci, cdev opened, bound to iommufd, Bus Master on", bdf) ? 0 : 1;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT;
	struct vfio_lu_dev nvme = VFIO_LU_DEV_INIT;
	int s;

	if (open_vfio(ctx, EDU_SW, &edu) || open_vfio(ctx, NVME_PF, &nvme))
		return 1;
	/* The ports above the edu forward its DMA (pcieport leaves them off). */
	CHECK(ctx, pci_lu_set_bus_master(SWITCH_DN1) == 0 && pci_lu_set_bus_master(SWITCH_UP) == 0,
	      "Bus Master on the switch ports above %s", EDU_SW);
	/* A device that is not preserved, mastering too: stock kexec stops it. */
	CHECK(ctx, pci_lu_set_bus_master(EDU_RP) == 0, "set Bus Master on %s (not preserved)",
	      EDU_RP);
	CHECK(ctx, edu_dma_round_trip(&edu, DEMO_IOVA, 0x42) == 0, "edu DMA works before");
	/* Registers only a reset clears: disable, program the admin queue, enable. */
	vfio_lu_bar_wr(&nvme, NVME_CC, 0);
	vfio_lu_sleep_ms(100);
	vfio_lu_bar_wr(&nvme, NVME_AQA, CANARY_AQA);
	vfio_lu_bar_wr(&nvme, NVME_ASQ, CANARY_ASQ);
	vfio_lu_bar_wr(&nvme, NVME_ASQ + 4, 0);
	vfio_lu_bar_wr(&nvme, NVME_ACQ, CANARY_ACQ);
	vfio_lu_bar_wr(&nvme, NVME_ACQ + 4, 0);
	vfio_lu_bar_wr(&nvme, NVME_CC, CANARY_CC);
	vfio_lu_sleep_ms(100);
	show_nvme(ctx, &nvme, "before");
	report(ctx);
	s = luo_create_session(ctx, "demo");
	CHECK(ctx, s >= 0 && luo_preserve_fd(s, edu.fd, 1) == 0 &&
	      luo_preserve_fd(s, nvme.fd, 2) == 0, "preserve the VFIO files of %s and %s",
	      EDU_SW, NVME_PF);
	printf("DEMO first  kernel: preserved the VFIO files of %s and %s in session \"demo\"\n",
	       EDU_SW, NVME_PF);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct vfio_device_info info;
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT;
	struct vfio_lu_dev nvme = VFIO_LU_DEV_INIT;
	int s, dma;

	report(ctx);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1 && pci_lu_incoming(NVME_PF) == 1,
	      "%s and %s are incoming", EDU_SW, NVME_PF);
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 1 && pci_lu_bus_master(NVME_PF) == 1,
	      "both kept Bus Master");
	CHECK(ctx, pci_lu_bus_master(EDU_RP) == 0, "%s had Bus Master cleared", EDU_RP);
	s = luo_retrieve_session(ctx, "demo");
	edu.fd = s >= 0 ? luo_retrieve_fd(s, 1) : -1;
	nvme.fd = s >= 0 ? luo_retrieve_fd(s, 2) : -1;
	CHECK(ctx, edu.fd >= 0 && nvme.fd >= 0 && vfio_lu_attach(&edu) == 0 &&
	      vfio_lu_attach(&nvme) == 0, "retrieved both files and bound them to iommufd");
	CHECK(ctx, vfio_lu_get_info(nvme.fd, &info) == 0, "VFIO_DEVICE_GET_INFO on %s",
	      NVME_PF);
	show_nvme(ctx, &nvme, "after ");
	CHECK(ctx, vfio_lu_bar_rd(&nvme, NVME_ASQ) == CANARY_ASQ &&
	      vfio_lu_bar_rd(&nvme, NVME_CC) == CANARY_CC, "nvme registers kept: no reset");
	dma = edu_dma_round_trip(&edu, DEMO_IOVA, 0x24);
	CHECK(ctx, dma == 0, "edu DMA through the retrieved file");
	printf("DEMO second kernel: retrieved fds: %s %d regions, edu DMA round trip %s\n",
	       NVME_PF, info.num_regions, dma ? "FAILED" : "ok");
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	printf("DEMO second kernel: session finished; %s incoming=%d, %s incoming=%d\n",
	       EDU_SW, pci_lu_incoming(EDU_SW), NVME_PF, pci_lu_incoming(NVME_PF));
	return 0;
}

PCI_LU_TEST(stage1, stage2)
