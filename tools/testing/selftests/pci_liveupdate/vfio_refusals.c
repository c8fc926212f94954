// SPDX-License-Identifier: GPL-2.0
/*
 * What the vfio-pci Live Update handler refuses, and how a VMM's mistakes
 * end. In the first kernel: group, container and group-device files are
 * refused, as are a VF whose PF is not preserved, a cdev file not bound to
 * iommufd, a second file of an open device and the same file twice;
 * closing a session unpreserves its device; a preserve does not wait for
 * a removal that its own session blocks, and the test handler refuses a
 * device whose binding is changing;
 * a kexec with interrupts still enabled fails naming the device, and
 * succeeds once they are disabled. In the second kernel: the preserved
 * device came back, the unpreserved one was stopped.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pci_lu.h"
#include "vfio_lu.h"

#define NOT_IOMMUFD_MSG \
	"0000:07:00.0: Live Update: preserve refused: only a /dev/vfio/devices file bound to iommufd can be preserved"
#define PF_NOT_PRESERVED_MSG \
	"0000:01:00.1: preserve refused: its PF 0000:01:00.0 is not preserved with VF Enable set"
#define IRQS_ENABLED_MSG \
	"0000:04:00.0: Live Update: freeze refused: interrupts are still enabled"

static void group_files(struct pci_lu_ctx *ctx, int s)
{
	int group = vfio_lu_group_open(EDU_RP);
	int container = open("/dev/vfio/vfio", O_RDWR);
	int dev;

	CHECK(ctx, group >= 0 && container >= 0, "open the group of %s and a container",
	      EDU_RP);
	CHECK(ctx, luo_preserve_fd(s, group, 10) == -ENOENT, "group file refused (ENOENT)");
	CHECK(ctx, luo_preserve_fd(s, container, 11) == -ENOENT,
	      "container file refused (ENOENT)");
	dev = vfio_lu_group_device_fd(group, container, EDU_RP);
	CHECK(ctx, dev >= 0, "VFIO_GROUP_GET_DEVICE_FD on %s (%d)", EDU_RP, dev);
	CHECK(ctx, dev >= 0 && luo_preserve_fd(s, dev, 12) == -EINVAL,
	      "device file from a group refused (EINVAL)");
	CHECK(ctx, pci_lu_dmesg_has(NOT_IOMMUFD_MSG),
	      "kernel named %s", EDU_RP);
	close(dev);
	close(group);
	close(container);
}

/* A VF runs only with its PF: here the nvme driver's, not preserved. */
static void vf_file(struct pci_lu_ctx *ctx, int s)
{
	struct vfio_lu_dev vf = VFIO_LU_DEV_INIT;
	int ret;

	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" NVME_PF "/sriov_numvfs", "1") == 0,
	      "enable one VF on %s", NVME_PF);
	vf.fd = vfio_lu_bind_driver(NVME_VF) ?: vfio_lu_cdev_open(NVME_VF);
	CHECK(ctx, vf.fd >= 0 && vfio_lu_attach(&vf) == 0, "VF %s open through vfio-pci",
	      NVME_VF);
	ret = vf.fd >= 0 ? luo_preserve_fd(s, vf.fd, 13) : vf.fd;
	CHECK(ctx, ret == -EINVAL, "VF file refused (EINVAL, got %d)", ret);
	CHECK(ctx, pci_lu_dmesg_has(PF_NOT_PRESERVED_MSG),
	      "kernel named the VF and its PF");
	vfio_lu_close(&vf);
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" NVME_PF "/sriov_numvfs", "0") == 0,
	      "disable the VF");
}

/*
 * Removal of a preserved device waits for its session, holding the rescan
 * lock and the device lock; a preserve in that session must not wait for
 * either.
 */
static void removal_does_not_deadlock(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev ctl = VFIO_LU_DEV_INIT;
	int s, other, fd, ret, status;
	pid_t pid;

	s = luo_create_session(ctx, "removal");
	ctl.fd = vfio_lu_bind_driver(NVME_CTL) ?: vfio_lu_cdev_open(NVME_CTL);
	CHECK(ctx, s >= 0 && ctl.fd >= 0 && vfio_lu_attach(&ctl) == 0 &&
	      luo_preserve_fd(s, ctl.fd, 1) == 0, "%s preserved in session removal", NVME_CTL);
	vfio_lu_close(&ctl);
	pid = fork();
	if (pid == 0) {
		/* A copy of the session fd would keep the session open. */
		close(s);
		_exit(pci_lu_write("/sys/bus/pci/devices/" NVME_CTL "/remove", "1") ? 1 : 0);
	}
	vfio_lu_sleep_ms(1000);
	CHECK(ctx, waitpid(pid, &status, WNOHANG) == 0,
	      "removing %s waits for the session holding its file", NVME_CTL);
	fd = pci_lu_test_fd(E1000E);
	ret = fd >= 0 ? luo_preserve_fd(s, fd, 2) : fd;
	CHECK(ctx, ret == 0, "preserve of %s in that session does not wait (%d)", E1000E, ret);
	CHECK(ctx, pci_lu_status_field(E1000E, "outgoing") == 1, "%s is outgoing", E1000E);
	/* The removal holds the device lock of the device it removes. */
	other = luo_create_session(ctx, "binding");
	fd = pci_lu_test_fd(NVME_CTL);
	ret = other >= 0 && fd >= 0 ? luo_preserve_fd(other, fd, 1) : -1;
	CHECK(ctx, ret == -EAGAIN, "test preserve of %s during its unbind refused (EAGAIN, got %d)",
	      NVME_CTL, ret);
	CHECK(ctx,
	      pci_lu_dmesg_has(NVME_CTL ": test preserve refused: its driver binding is changing"),
	      "kernel explained the refusal");
	close(fd);
	close(other);
	close(s);
	CHECK(ctx, pci_lu_status_field(E1000E, "outgoing") == 0,
	      "closing the session unpreserved %s", E1000E);
	CHECK(ctx, waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      !WEXITSTATUS(status), "closing the session lets the removal finish");
	CHECK(ctx, access("/sys/bus/pci/devices/" NVME_CTL, F_OK) && errno == ENOENT,
	      "%s is gone", NVME_CTL);
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev a = VFIO_LU_DEV_INIT;
	struct vfio_lu_dev rp = VFIO_LU_DEV_INIT;
	struct vfio_device_info info;
	int s, closed, b, ret;

	CHECK(ctx, vfio_lu_bind_driver(EDU_SW) == 0 && vfio_lu_bind_driver(EDU_RP) == 0,
	      "%s and %s bound to vfio-pci", EDU_SW, EDU_RP);
	s = luo_create_session(ctx, "a");
	if (!CHECK(ctx, s >= 0, "create session a"))
		return 1;
	group_files(ctx, s);
	vf_file(ctx, s);

	a.fd = vfio_lu_cdev_open(EDU_SW);
	CHECK(ctx, a.fd >= 0 && luo_preserve_fd(s, a.fd, 1) == -EINVAL,
	      "cdev file not bound to iommufd refused (EINVAL)");
	CHECK(ctx, vfio_lu_attach(&a) == 0, "%s bound to iommufd", EDU_SW);
	b = vfio_lu_cdev_open(EDU_SW);
	CHECK(ctx, b >= 0 && luo_preserve_fd(s, b, 2) == -EBUSY,
	      "second cdev file of the open device refused (EBUSY)");
	close(b);
	CHECK(ctx, luo_preserve_fd(s, a.fd, 1) == 0, "preserve the bound cdev file of %s", EDU_SW);
	CHECK(ctx, luo_preserve_fd(s, a.fd, 3) == -EBUSY, "the same file again refused (EBUSY)");
	CHECK(ctx, vfio_lu_set_master(&a) == 0 && pci_lu_set_bus_master(SWITCH_DN1) == 0,
	      "Bus Master on %s and its downstream port", EDU_SW);

	/* Kept open across the kexec, mastering, but its session is closed. */
	closed = luo_create_session(ctx, "closed");
	rp.fd = vfio_lu_cdev_open(EDU_RP);
	CHECK(ctx, rp.fd >= 0 && vfio_lu_attach(&rp) == 0 && vfio_lu_set_master(&rp) == 0,
	      "%s open, bound and mastering", EDU_RP);
	CHECK(ctx, closed >= 0 && luo_preserve_fd(closed, rp.fd, 1) == 0 &&
	      pci_lu_status_field(EDU_RP, "outgoing") == 1, "%s preserved in session closed",
	      EDU_RP);
	close(closed);
	CHECK(ctx, pci_lu_status_field(EDU_RP, "outgoing") == 0,
	      "closing the session unpreserved %s", EDU_RP);
	CHECK(ctx, pci_lu_bus_master(EDU_RP) == 1, "%s still masters before the kexec", EDU_RP);

	removal_does_not_deadlock(ctx);

	/* A kexec with interrupts on fails; the device keeps working. */
	CHECK(ctx, vfio_lu_msi(a.fd, true) == 0, "MSI enabled on %s", EDU_SW);
	CHECK(ctx, vfio_lu_load_next_kernel() == 0, "next kernel loaded");
	errno = 0;
	ret = reboot(RB_KEXEC);
	CHECK(ctx, ret == -1 && errno == EBUSY, "kexec fails with EBUSY (%d, errno %d)", ret,
	      errno);
	CHECK(ctx, pci_lu_dmesg_has(IRQS_ENABLED_MSG),
	      "kernel named %s", EDU_SW);
	CHECK(ctx, vfio_lu_get_info(a.fd, &info) == 0 && a.bar0 &&
	      edu_dma_round_trip(&a, 0x100000, 0x11) == 0,
	      "%s still works through VFIO after the failed freeze", EDU_SW);
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 1, "%s still masters", EDU_SW);
	CHECK(ctx, vfio_lu_msi(a.fd, false) == 0, "MSI disabled: the kexec can go on");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct vfio_device_info info;
	struct vfio_lu_dev a = VFIO_LU_DEV_INIT;
	int s;

	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1 && pci_lu_bus_master(EDU_SW) == 1,
	      "%s incoming and mastering", EDU_SW);
	CHECK(ctx, pci_lu_incoming(EDU_RP) == 0, "%s (session closed) not incoming", EDU_RP);
	CHECK(ctx, pci_lu_status_field(EDU_RP, "bm_at_enum") == 0 &&
	      pci_lu_bus_master(EDU_RP) == 0, "%s was stopped at the kexec as without Live Update",
	      EDU_RP);
	CHECK(ctx, pci_lu_incoming(E1000E) == 0, "%s (its session closed) not incoming",
	      E1000E);
	s = luo_retrieve_session(ctx, "a");
	a.fd = s >= 0 ? luo_retrieve_fd(s, 1) : -1;
	CHECK(ctx, a.fd >= 0 && vfio_lu_attach(&a) == 0 && vfio_lu_get_info(a.fd, &info) == 0,
	      "retrieved file of %s bound and answering", EDU_SW);
	CHECK(ctx, luo_finish_session(s) == 0, "finish session a");
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 0, "%s finished", EDU_SW);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
