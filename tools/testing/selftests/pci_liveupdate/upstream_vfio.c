// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's own vfio and liveupdate selftests (tools/testing/selftests/
 * vfio and liveupdate of the fetched 7.3 tree), run against the project's
 * kernel on its QEMU topology, in both kernels of a vfio Live Update.
 *
 * Stage 1 runs the liveupdate ioctl tests, then every vfio suite on edu
 * 04:00.0 (behind the switch), edu 07:00.0 and nvme 01:00.0 bound to
 * vfio-pci (the SR-IOV uAPI test on the nvme PF), then preserves the three
 * devices' VFIO files in a LUO session as a VMM does. Stage 2 retrieves and
 * finishes them, then runs the same suites again on the devices that were
 * just carried across, and the liveupdate tests in the second kernel.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"
#include "upstream.h"
#include "vfio_lu.h"

#define VFIO_BIN	"/upstream/vfio/"
#define LU_BIN		"/upstream/liveupdate/"
#define SESSION		"upstream-vfio"

static const char *const devs[] = { EDU_SW, EDU_RP, NVME_PF };
#define NDEVS	ARRAY_SIZE(devs)
#define NSUITES	ARRAY_SIZE(suites)

/*
 * Skips that cannot be removed on this topology (README, "Upstream
 * suites"): QEMU's edu has MSI but no MSI-X, its nvme MSI-X but no MSI, and
 * no QEMU 7.2 device has a libvfio driver (vfio_pci_driver_test is not run).
 */
static const struct ksft_skip_ok edu_skips[] = {
	{ "msix", "QEMU edu has no MSI-X capability" },
	{ NULL, NULL }
};

static const struct ksft_skip_ok nvme_skips[] = {
	{ "msi.enable_trigger_disable", "QEMU nvme has MSI-X but no MSI capability" },
	{ NULL, NULL }
};

static const char *const suites[] = {
	"vfio_dma_mapping_test",
	"vfio_dma_mapping_mmio_test",
	"vfio_iommufd_setup_test",
	"vfio_pci_device_test",
	"vfio_pci_device_init_perf_test",
};

/* /dev/liveupdate is exclusive: the ioctl tests need it closed here. */
static void run_liveupdate_tests(struct pci_lu_ctx *ctx)
{
	static char *const argv[] = { LU_BIN "liveupdate", NULL };

	close(ctx->luo_fd);
	ksft_check(ctx, "liveupdate", argv, NULL);
	ctx->luo_fd = open("/dev/liveupdate", O_RDWR);
	CHECK(ctx, ctx->luo_fd >= 0, "/dev/liveupdate opens again after the ioctl tests");
}

/* Sets /sys/kernel/mm/hugepages/hugepages-@size/@file to @n; reads it back. */
static int set_hugepages(const char *size, const char *file, int n)
{
	char path[128], val[16] = "", want[16];

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%s/%s", size, file);
	snprintf(want, sizeof(want), "%d", n);
	pci_lu_write(path, want);
	pci_lu_read(path, val, sizeof(val));
	return atoi(val);
}

/*
 * Hugepages for the DMA mapping test's HugeTLB variants, reserved at run
 * time: a boot-time 1 GiB reservation competes with KHO's scratch areas.
 * vfio pins long term, which migrates a hugepage out of KHO's scratch
 * (CMA): the migration needs a surplus page to go to.
 */
static void reserve_hugepages(struct pci_lu_ctx *ctx)
{
	int n;

	n = set_hugepages("2048kB", "nr_overcommit_hugepages", 8);
	n = n == 8 ? set_hugepages("2048kB", "nr_hugepages", 4) : -1;
	CHECK(ctx, n == 4, "four 2 MiB hugepages reserved, 8 more may be overcommitted (%d)", n);
	n = set_hugepages("1048576kB", "nr_hugepages", 1);
	CHECK(ctx, n == 1, "one 1 GiB hugepage reserved (%d)", n);
}

static void run_vfio_suites(struct pci_lu_ctx *ctx)
{
	char path[128], label[128];

	reserve_hugepages(ctx);

	for (unsigned int d = 0; d < NDEVS; d++) {
		const struct ksft_skip_ok *skips =
			strcmp(devs[d], NVME_PF) ? edu_skips : nvme_skips;

		if (!CHECK(ctx, vfio_lu_bind_driver(devs[d]) == 0, "%s bound to vfio-pci", devs[d]))
			continue;
		for (unsigned int s = 0; s < NSUITES; s++) {
			char *const argv[] = { path, (char *)devs[d], NULL };

			snprintf(path, sizeof(path), VFIO_BIN "%s", suites[s]);
			snprintf(label, sizeof(label), "%s %s", suites[s], devs[d]);
			ksft_check(ctx, label, argv, skips);
		}
	}
	{
		static char *const argv[] = { VFIO_BIN "vfio_pci_sriov_uapi_test", NVME_PF, NULL };

		ksft_check(ctx, "vfio_pci_sriov_uapi_test " NVME_PF, argv, nvme_skips);
	}
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev dev[NDEVS];
	int s;

	run_liveupdate_tests(ctx);
	run_vfio_suites(ctx);

	/* Then a VMM's use of the same devices, carried across the kexec. */
	s = luo_create_session(ctx, SESSION);
	if (!CHECK(ctx, s >= 0, "create session %s (%d)", SESSION, s))
		return 1;
	for (unsigned int d = 0; d < NDEVS; d++) {
		dev[d] = (struct vfio_lu_dev)VFIO_LU_DEV_INIT;
		dev[d].fd = vfio_lu_cdev_open(devs[d]);
		CHECK(ctx, dev[d].fd >= 0 && vfio_lu_attach(&dev[d]) == 0 &&
		      vfio_lu_set_master(&dev[d]) == 0,
		      "%s opened, bound to iommufd and mastering through VFIO", devs[d]);
		CHECK(ctx, luo_preserve_fd(s, dev[d].fd, d + 1) == 0,
		      "preserve the VFIO file of %s", devs[d]);
	}
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev dev[NDEVS];
	char drv[64];
	int s;

	for (unsigned int d = 0; d < NDEVS; d++) {
		pci_lu_driver(devs[d], drv, sizeof(drv));
		CHECK(ctx, pci_lu_incoming(devs[d]) == 1 && pci_lu_bus_master(devs[d]) == 1 &&
		      (!drv[0] || !strcmp(drv, "vfio-pci")),
		      "%s incoming, mastering, no driver but vfio-pci ('%s')", devs[d], drv);
	}
	s = luo_retrieve_session(ctx, SESSION);
	if (!CHECK(ctx, s >= 0, "retrieve session %s (%d)", SESSION, s))
		return 1;
	for (unsigned int d = 0; d < NDEVS; d++) {
		dev[d] = (struct vfio_lu_dev)VFIO_LU_DEV_INIT;
		dev[d].fd = luo_retrieve_fd(s, d + 1);
		CHECK(ctx, dev[d].fd >= 0 && vfio_lu_attach(&dev[d]) == 0,
		      "retrieved the VFIO file of %s and bound it to iommufd", devs[d]);
	}
	CHECK(ctx, luo_finish_session(s) == 0, "finish session %s", SESSION);
	close(s);
	for (unsigned int d = 0; d < NDEVS; d++) {
		vfio_lu_close(&dev[d]);
		CHECK(ctx, pci_lu_incoming(devs[d]) == 0, "%s no longer incoming", devs[d]);
	}

	/* The devices that just crossed, under the suites of their subsystems. */
	run_liveupdate_tests(ctx);
	run_vfio_suites(ctx);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
