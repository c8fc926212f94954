// SPDX-License-Identifier: GPL-2.0
/*
 * Freeze is a barrier: once the vfio-pci file is frozen for the kexec, no
 * access that userspace started before can still reach the device, and
 * none that started before is lost.
 *
 * Stage 1 preserves the nvme's VFIO file and leaves a config space write
 * to it in flight: a child process writes a PCI Express control bit whose
 * value comes from a page that faults into a userfaultfd, and the handler
 * supplies the page only 15 s later. /init starts the kexec meanwhile. The
 * freeze must wait for that write (it was accepted before the freeze), so
 * the next kernel finds the bit as written. Without the barrier the kexec
 * does not wait: the write never reaches the device before the kexec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pci_lu.h"
#include "vfio_lu.h"

#define DATA_TOKEN	100
#define HOLD_S		15

/* What stage 1 hands to stage 2 in a preserved memfd. */
struct barrier_data {
	int reg;		/* config space offset */
	uint16_t want;		/* value the in-flight write sets */
};

static int uffd, ready_pipe[2];
static char *fault_page;
static uint16_t in_flight;

/* Offset of the PCI Express capability of @bdf from sysfs, or -1. */
static int pcie_cap(const char *bdf)
{
	int pos = pci_lu_config_word(bdf, 0x34) & 0xfc;

	for (int n = 0; pos && n < 48; n++) {
		int hdr = pci_lu_config_word(bdf, pos);

		if (hdr < 0)
			return -1;
		if ((hdr & 0xff) == 0x10)
			return pos;
		pos = (hdr >> 8) & 0xfc;
	}
	return -1;
}

static int cfg_write(struct vfio_lu_dev *d, int reg, const void *buf)
{
	return pwrite(d->fd, buf, 2, d->cfg_off + reg) == 2 ? 0 : -errno;
}

/* Supplies the faulting page HOLD_S seconds after the write blocked on it. */
static void *handler(void *arg)
{
	struct pollfd p = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;
	static char src[4096] __attribute__((aligned(4096)));
	struct uffdio_copy copy = {
		.dst = (unsigned long)fault_page, .src = (unsigned long)src, .len = 4096,
	};

	if (poll(&p, 1, -1) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return NULL;
	if (write(ready_pipe[1], "f", 1) != 1)
		return NULL;
	sleep(HOLD_S);
	memcpy(src, &in_flight, sizeof(in_flight));
	ioctl(uffd, UFFDIO_COPY, &copy);
	return NULL;
}

/* Child: the write whose source page is not there yet. */
static void writer(struct vfio_lu_dev *d, int reg)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register r = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	pthread_t t;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	fault_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r.range.start = (unsigned long)fault_page;
	r.range.len = 4096;
	if (uffd < 0 || fault_page == MAP_FAILED || ioctl(uffd, UFFDIO_API, &api) ||
	    ioctl(uffd, UFFDIO_REGISTER, &r) || pthread_create(&t, NULL, handler, NULL))
		_exit(1);
	cfg_write(d, reg, fault_page);
	for (;;)
		pause();
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev nvme = VFIO_LU_DEV_INIT;
	struct barrier_data data = { .reg = -1 };
	int cap = pcie_cap(NVME_PF), s, fd, ret;
	char c;

	CHECK(ctx, vfio_lu_bind_driver(NVME_PF) == 0, "%s bound to vfio-pci", NVME_PF);
	nvme.fd = vfio_lu_cdev_open(NVME_PF);
	ret = nvme.fd >= 0 ? vfio_lu_attach(&nvme) : nvme.fd;
	if (!CHECK(ctx, ret == 0 && cap > 0, "%s opened and attached, PCIe capability at %#x (%d)",
		   NVME_PF, cap, ret))
		return 1;

	/* A control bit that VFIO passes through and the device keeps. */
	const struct { int reg; uint16_t bit; } try[] = {
		{ 0x04, 1 << 8 },		/* Command: SERR# Enable */
		{ 0x04, 1 << 6 },		/* Command: Parity Error Response */
		{ cap + 0x08, 1 << 0 },		/* Device Control: error reporting */
		{ cap + 0x08, 1 << 1 },
		{ cap + 0x08, 1 << 4 },		/* Device Control: Relaxed Ordering */
		{ cap + 0x10, 1 << 6 },		/* Link Control: Common Clock */
		{ 0x04, 1 << 2 },		/* Command: Bus Master */
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(try) && data.reg < 0; i++) {
		int reg = try[i].reg;
		uint16_t old = pci_lu_config_word(NVME_PF, reg), val = old ^ try[i].bit;

		if (cfg_write(&nvme, reg, &val) == 0 && pci_lu_config_word(NVME_PF, reg) == val &&
		    cfg_write(&nvme, reg, &old) == 0 && pci_lu_config_word(NVME_PF, reg) == old) {
			data.reg = reg;
			data.want = val;
		}
	}
	if (!CHECK(ctx, data.reg > 0, "found a writable control bit (%#x -> %#06x)", data.reg,
		   data.want))
		return 1;

	s = luo_create_session(ctx, "barrier");
	fd = memfd_create("barrier-data", 0);
	CHECK(ctx, s >= 0 && fd >= 0 && write(fd, &data, sizeof(data)) == sizeof(data) &&
	      luo_preserve_fd(s, fd, DATA_TOKEN) == 0, "data for stage 2 preserved");
	CHECK(ctx, luo_preserve_fd(s, nvme.fd, 1) == 0, "preserve the VFIO file of %s", NVME_PF);

	in_flight = data.want;
	if (!CHECK(ctx, pipe(ready_pipe) == 0, "pipe"))
		return 1;
	if (fork() == 0)
		writer(&nvme, data.reg);
	CHECK(ctx, read(ready_pipe[0], &c, 1) == 1,
	      "a config write to %s is in flight, blocked on its source page for %d s", NVME_PF,
	      HOLD_S);
	CHECK(ctx, pci_lu_config_word(NVME_PF, data.reg) != data.want,
	      "it has not reached the device yet");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct barrier_data data = { .reg = -1 };
	int s, fd, v;

	s = luo_retrieve_session(ctx, "barrier");
	fd = s >= 0 ? luo_retrieve_fd(s, DATA_TOKEN) : -ENOENT;
	if (!CHECK(ctx, fd >= 0 && pread(fd, &data, sizeof(data), 0) == sizeof(data) &&
		   data.reg > 0, "data from stage 1"))
		return 1;
	CHECK(ctx, pci_lu_incoming(NVME_PF) == 1, "%s is incoming", NVME_PF);
	v = pci_lu_config_word(NVME_PF, data.reg);
	CHECK(ctx, v == data.want,
	      "the write in flight at freeze reached %s before the kexec (%#x: %#06x, want %#06x)",
	      NVME_PF, data.reg, v, data.want);
	CHECK(ctx, luo_retrieve_fd(s, 1) >= 0, "retrieve the VFIO file");
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
