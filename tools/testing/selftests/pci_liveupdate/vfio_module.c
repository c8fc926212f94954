// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-pci as a module (the test kernel builds it so; /init loads it).
 *
 * Stage 1 preserves the edu behind the switch through a vfio-pci cdev file
 * and checks that LUO pins the module while it holds the file, and lets go
 * when a closed session unpreserves it. The second kernel is told
 * (pci_lu_modules=test) not to load modules: something opens
 * /dev/liveupdate before vfio-pci is loaded, which is the mistake an
 * operator can make. LUO restores sessions only once, so the session with
 * the file is lost for good and /dev/liveupdate keeps failing after
 * vfio-pci loads. The device must not be left half-preserved: it arrives
 * mastering, stays incoming and untouched, and the administrator's way
 * out (liveupdate_abandon) still works; after it the device is an
 * ordinary one that vfio-pci opens as usual.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "modules.h"
#include "pci_lu.h"
#include "vfio_lu.h"

#define EDU_IOVA	0x100000	/* edu masks DMA addresses to 28 bits */

static const char *const edu_path[] = { SWITCH_DN1, SWITCH_UP, ROOT_PORT2 };

/* /sys/module/@name/@attr as a number, or -errno. */
static long module_attr(const char *name, const char *attr)
{
	char path[128], buf[32];
	int ret;

	snprintf(path, sizeof(path), "/sys/module/%s/%s", name, attr);
	ret = pci_lu_read(path, buf, sizeof(buf));
	return ret ? ret : strtol(buf, NULL, 10);
}

/* Opens and closes /dev/liveupdate: 0 or the errno of the open. */
static int luo_open_errno(void)
{
	int fd = open("/dev/liveupdate", O_RDWR);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* True if @name is a loaded module (built-in code has no initstate). */
static bool module_live(const char *name)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	return pci_lu_read(path, buf, sizeof(buf)) == 0 && !strncmp(buf, "live", 4);
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT;
	long before, after;
	int s;

	if (!CHECK(ctx, module_live("vfio_pci") && module_live("vfio_pci_core"),
		   "vfio_pci and vfio_pci_core are loaded modules"))
		return 1;
	if (!CHECK(ctx, vfio_lu_bind_driver(EDU_SW) == 0, "%s bound to vfio-pci", EDU_SW))
		return 1;
	edu.fd = vfio_lu_cdev_open(EDU_SW);
	if (!CHECK(ctx, edu.fd >= 0 && vfio_lu_attach(&edu) == 0,
		   "%s opened and bound to iommufd (%d)", EDU_SW, edu.fd))
		return 1;
	for (unsigned int i = 0; i < ARRAY_SIZE(edu_path); i++)
		CHECK(ctx, pci_lu_set_bus_master(edu_path[i]) == 0, "Bus Master on %s",
		      edu_path[i]);
	CHECK(ctx, vfio_lu_set_master(&edu) == 0 && pci_lu_bus_master(EDU_SW) == 1,
	      "Bus Master set through VFIO on %s", EDU_SW);
	CHECK(ctx, edu.bar0 && edu_dma_round_trip(&edu, EDU_IOVA, 0x5a) == 0,
	      "edu DMA round trip through vfio-pci.ko");

	/* A session closed before the kexec unpreserves: LUO lets go. */
	s = luo_create_session(ctx, "vfio-module-closed");
	if (!CHECK(ctx, s >= 0, "create a session"))
		return 1;
	before = module_attr("vfio_pci", "refcnt");
	CHECK(ctx, luo_preserve_fd(s, edu.fd, 1) == 0, "preserve the VFIO file of %s", EDU_SW);
	after = module_attr("vfio_pci", "refcnt");
	CHECK(ctx, before >= 0 && after == before + 1,
	      "LUO holds vfio_pci while it holds the file (refcnt %ld -> %ld)", before, after);
	close(s);
	after = module_attr("vfio_pci", "refcnt");
	CHECK(ctx, after == before, "closing the session drops the hold (refcnt %ld)", after);

	s = luo_create_session(ctx, "vfio-module");
	if (!CHECK(ctx, s >= 0, "create a session"))
		return 1;
	CHECK(ctx, luo_preserve_fd(s, edu.fd, 1) == 0 &&
	      module_attr("vfio_pci", "refcnt") == before + 1,
	      "preserve the VFIO file of %s again, in the session kept", EDU_SW);
	/* The open file pins it too: this shows the outcome, refcnt the hold. */
	CHECK(ctx, syscall(SYS_delete_module, "vfio_pci", O_NONBLOCK) < 0 &&
	      (errno == EWOULDBLOCK || errno == EBUSY) && module_live("vfio_pci"),
	      "vfio_pci cannot be unloaded while a file is preserved");
	CHECK(ctx, pci_lu_status_field(EDU_SW, "outgoing") == 1, "%s is outgoing", EDU_SW);
	CHECK(ctx, pci_lu_stage2_cmdline(PCI_LU_MODULES_BY_TEST) == 0,
	      "the second kernel leaves loading the modules to the test");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	const char *abandoned = EDU_SW ": Live Update preservation abandoned; Bus Master cleared";
	char drv[64];
	int fd, err, ret;

	CHECK(ctx, access("/sys/module/vfio_pci", F_OK) != 0, "vfio_pci is not loaded yet");
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1 && pci_lu_bus_master(EDU_SW) == 1,
	      "%s arrived incoming with Bus Master set", EDU_SW);

	err = luo_open_errno();
	CHECK(ctx, err == EIO, "opening /dev/liveupdate before vfio-pci loads fails with EIO (%d)",
	      err);
	CHECK(ctx, pci_lu_dmesg_has("No registered handler for compatible"),
	      "LUO logged the missing file handler");

	ret = pci_lu_load_modules();
	CHECK(ctx, ret >= 2 && module_live("vfio_pci"), "vfio-pci loads late (%d modules)", ret);
	err = luo_open_errno();
	CHECK(ctx, err == EIO, "LUO does not restore the sessions again: still EIO (%d)", err);

	/* Nothing half-done: the device waits as it arrived. */
	pci_lu_driver(EDU_SW, drv, sizeof(drv));
	CHECK(ctx, !drv[0], "%s has no driver (got '%s')", EDU_SW, drv);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1 && pci_lu_bus_master(EDU_SW) == 1,
	      "%s still incoming and mastering", EDU_SW);
	fd = vfio_lu_bind_driver(EDU_SW) == 0 ? vfio_lu_cdev_open(EDU_SW) : -ENODEV;
	CHECK(ctx, fd == -EBUSY, "its cdev cannot be opened while incoming (%d)", fd);
	if (fd >= 0)
		close(fd);

	/* The way out. */
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" EDU_SW "/liveupdate_abandon", "1") == 0,
	      "administrator abandons %s", EDU_SW);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 0 && pci_lu_bus_master(EDU_SW) == 0,
	      "%s no longer incoming, Bus Master cleared", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has(abandoned), "kernel logged: %s", abandoned);
	fd = vfio_lu_cdev_open(EDU_SW);
	CHECK(ctx, fd >= 0, "the cdev of %s opens as an ordinary device (%d)", EDU_SW, fd);
	if (fd >= 0)
		close(fd);
	CHECK(ctx, !pci_lu_dmesg_has("WARNING:"), "no kernel warning");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
