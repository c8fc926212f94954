// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures from the kernel's own fault injection (failslab and
 * fail_page_alloc), limited to this thread and to allocations made with
 * the component, or vfio-pci's handler, on the stack. In the scale
 * topology (scripts/vm -x) every preserve is first tried under injection:
 *   - the first one, which creates the table (page and kmalloc failures
 *     apart), and every one that must grow it fail with ENOMEM and leave
 *     the table exactly as it was; one of the
 *     devices refused that way is never retried and must not cross;
 *   - vfio-pci's preserve fails the same way and leaves nothing behind.
 * In the second kernel, vfio-pci's retrieve fails under injection: LUO
 * never retries it, so the device is abandoned (Bus Master cleared, no
 * longer incoming), the session still finishes, and the device is then an
 * ordinary vfio-pci device again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault.h"
#include "pci_lu.h"
#include "vfio_lu.h"

#define WANT		64
#define MAX_ENTRIES	256
#define DATA_TOKEN	1000
#define VFIO_TOKEN	2000

struct faults_data {
	int n_ok;
	char ok[WANT][16];
	char dropped[16];
};

static bool same_table(const struct pci_lu_entry *a, int na, const struct pci_lu_entry *b, int nb)
{
	return na == nb && na >= 0 && !memcmp(a, b, na * sizeof(*a));
}

/* Preserves @fd under injected faults; the verdict is checked by the caller. */
static int preserve_faulted(int s, int fd, uint64_t token, long *injected)
{
	long before = fault_begin();
	int ret = before < 0 ? -EPERM : luo_preserve_fd(s, fd, token);

	*injected = fault_end(before);
	return ret;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	static struct pci_lu_entry before[MAX_ENTRIES], after[MAX_ENTRIES];
	static char dev[WANT][16];
	static struct faults_data d;
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT;
	struct fault_range comp = { 0 }, vfio = { 0 };
	int n, s, fd, ret, nb, na, cap, first_cap;
	int refused = 0, unchanged = 0, bad = 0;
	long inj;

	n = pci_lu_scale_edus(dev, WANT);
	if (!CHECK(ctx, n == WANT, "%d extra edu endpoints (want %d)", n, WANT))
		return 1;
	ret = fault_range("pci_liveupdate", &comp) ?: fault_range("vfio_pci_liveupdate", &vfio);
	if (!CHECK(ctx, !ret && comp.end - comp.start < (1 << 20) &&
		   vfio.end - vfio.start < (1 << 20),
		   "text of the component %#lx-%#lx and of vfio-pci's handler %#lx-%#lx",
		   comp.start, comp.end, vfio.start, vfio.end))
		return 1;
	if (!CHECK(ctx, fault_setup(&comp) == 0, "failslab and fail_page_alloc set up"))
		return 1;
	s = luo_create_session(ctx, "faults");
	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;

	/* The first preserve allocates the table itself. */
	fd = pci_lu_test_fd(dev[0]);
	pci_lu_set_bus_master(dev[0]);
	ret = preserve_faulted(s, fd, 1, &inj);
	CHECK(ctx, ret == -ENOMEM && inj > 0,
	      "first preserve (%s) fails with ENOMEM (%d) after %ld injected failures", dev[0],
	      ret, inj);
	CHECK(ctx, pci_lu_table("outgoing", NULL, 0) == -ENOENT &&
	      pci_lu_status_field(dev[0], "outgoing") == 0 &&
	      pci_lu_status_field(dev[0], "path") == 0, "no table and nothing marked preserved");
	/* Pages now succeed: the table's header is allocated, its owner is not. */
	pci_lu_write("/sys/kernel/debug/fail_page_alloc/probability", "0");
	ret = preserve_faulted(s, fd, 1, &inj);
	pci_lu_write("/sys/kernel/debug/fail_page_alloc/probability", "100");
	CHECK(ctx, ret == -ENOMEM && inj > 0 && pci_lu_table("outgoing", NULL, 0) == -ENOENT &&
	      pci_lu_status_field(dev[0], "outgoing") == 0,
	      "with only kmalloc failing: ENOMEM (%d), %ld injected, no table", ret, inj);
	CHECK(ctx, luo_preserve_fd(s, fd, 1) == 0, "retried without faults: preserved");
	close(fd);
	snprintf(d.ok[d.n_ok++], 16, "%s", dev[0]);
	first_cap = pci_lu_capacity();

	/* Every later one: under faults first. */
	for (int i = 1; i < n; i++) {
		nb = pci_lu_table("outgoing", before, MAX_ENTRIES);
		cap = pci_lu_capacity();
		fd = pci_lu_test_fd(dev[i]);
		pci_lu_set_bus_master(dev[i]);
		ret = preserve_faulted(s, fd, i + 1, &inj);
		if (ret == 0) {
			/* Only growing allocates: a success must not have grown. */
			if (pci_lu_capacity() != cap ||
			    pci_lu_status_field(dev[i], "outgoing") != 1) {
				pci_lu_log("%s preserved under faults, capacity %d -> %d",
					   dev[i], cap, pci_lu_capacity());
				bad++;
			}
			snprintf(d.ok[d.n_ok++], 16, "%s", dev[i]);
			close(fd);
			continue;
		}
		refused++;
		na = pci_lu_table("outgoing", after, MAX_ENTRIES);
		if (ret == -ENOMEM && inj > 0 && same_table(before, nb, after, na) &&
		    pci_lu_capacity() == cap && pci_lu_status_field(dev[i], "outgoing") == 0)
			unchanged++;
		else
			pci_lu_log("%s: preserve %d, %ld injected, %d -> %d entries",
				   dev[i], ret, inj, nb, na);
		/* The first device refused this way stays out, to check in stage 2. */
		if (!d.dropped[0]) {
			snprintf(d.dropped, 16, "%s", dev[i]);
			close(fd);
			continue;
		}
		if (luo_preserve_fd(s, fd, i + 1) == 0)
			snprintf(d.ok[d.n_ok++], 16, "%s", dev[i]);
		else
			bad++;
		close(fd);
	}
	CHECK(ctx, bad == 0, "every preserve that succeeded under faults allocated nothing");
	CHECK(ctx, refused >= 2 && unchanged == refused,
	      "%d preserves that had to grow the table failed with ENOMEM, table unchanged each time (%d)",
	      refused, unchanged);
	CHECK(ctx, d.n_ok == WANT - 1 && pci_lu_capacity() > first_cap,
	      "%d devices preserved on retry, table grew %d -> %d entries", d.n_ok, first_cap,
	      pci_lu_capacity());

	/* vfio-pci's preserve allocates its own record. */
	edu.fd = vfio_lu_bind_driver(EDU_SW) ?: vfio_lu_cdev_open(EDU_SW);
	CHECK(ctx, edu.fd >= 0 && vfio_lu_attach(&edu) == 0 && vfio_lu_set_master(&edu) == 0,
	      "%s opened through vfio-pci, mastering", EDU_SW);
	fault_target(&vfio);
	nb = pci_lu_table("outgoing", before, MAX_ENTRIES);
	ret = preserve_faulted(s, edu.fd, VFIO_TOKEN, &inj);
	na = pci_lu_table("outgoing", after, MAX_ENTRIES);
	CHECK(ctx, ret == -ENOMEM && inj > 0 && same_table(before, nb, after, na) &&
	      pci_lu_status_field(EDU_SW, "outgoing") == 0,
	      "vfio-pci preserve fails with ENOMEM (%d, %ld injected), table unchanged", ret, inj);
	CHECK(ctx, luo_preserve_fd(s, edu.fd, VFIO_TOKEN) == 0 &&
	      pci_lu_status_field(EDU_SW, "outgoing") == 1, "retried without faults: preserved");
	CHECK(ctx, fault_write("probability", "0") == 0, "injection off");

	fd = memfd_create("faults-data", 0);
	CHECK(ctx, fd >= 0 && write(fd, &d, sizeof(d)) == sizeof(d) &&
	      luo_preserve_fd(s, fd, DATA_TOKEN) == 0, "device list handed to stage 2");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	static struct faults_data d;
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT;
	struct vfio_device_info info;
	struct fault_range vfio = { 0 };
	int s, fd, ret, again, incoming = 0, back = 0;
	char drv[64];
	long inj;

	s = luo_retrieve_session(ctx, "faults");
	fd = s >= 0 ? luo_retrieve_fd(s, DATA_TOKEN) : -ENOENT;
	if (!CHECK(ctx, fd >= 0 && pread(fd, &d, sizeof(d), 0) == sizeof(d) && d.n_ok == WANT - 1,
		   "device list from stage 1"))
		return 1;
	for (int i = 0; i < d.n_ok; i++)
		incoming += pci_lu_incoming(d.ok[i]) == 1;
	CHECK(ctx, incoming == d.n_ok, "%d of %d preserved devices incoming", incoming, d.n_ok);
	CHECK(ctx, pci_lu_incoming(d.dropped) == 0, "%s, refused under faults, is not incoming",
	      d.dropped);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1 && pci_lu_bus_master(EDU_SW) == 1,
	      "%s incoming and mastering", EDU_SW);

	if (!CHECK(ctx, fault_range("vfio_pci_liveupdate", &vfio) == 0 && fault_setup(&vfio) == 0,
		   "fault injection on vfio-pci's handler"))
		return 1;
	inj = fault_begin();
	ret = inj < 0 ? -EPERM : luo_retrieve_fd(s, VFIO_TOKEN);
	inj = fault_end(inj);
	fault_write("probability", "0");
	CHECK(ctx, ret < 0 && inj > 0, "vfio-pci retrieve fails (%d) after %ld injected failures",
	      ret, inj);
	again = luo_retrieve_fd(s, VFIO_TOKEN);
	CHECK(ctx, again == ret, "LUO keeps that error for the file (%d)", again);
	pci_lu_driver(EDU_SW, drv, sizeof(drv));
	/* It can never be retrieved: abandoned, as a stock kexec would leave it. */
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 0 && pci_lu_bus_master(EDU_SW) == 0 &&
	      (!drv[0] || !strcmp(drv, "vfio-pci")),
	      "%s abandoned: not incoming, Bus Master cleared, driver '%s'", EDU_SW, drv);
	CHECK(ctx,
	      pci_lu_dmesg_has("0000:04:00.0: Live Update: retrieve failed; abandoning the device"),
	      "kernel logged the abandon of %s", EDU_SW);

	for (int i = 1; i <= WANT; i++)
		back += luo_retrieve_fd(s, i) >= 0;
	CHECK(ctx, back == d.n_ok, "%d of %d test files retrieved", back, d.n_ok);
	CHECK(ctx, luo_finish_session(s) == 0, "session finishes despite the failed retrieve");
	CHECK(ctx, pci_lu_incoming_count() == 0, "nothing incoming after finish (%d)",
	      pci_lu_incoming_count());
	edu.fd = vfio_lu_bind_driver(EDU_SW) ?: vfio_lu_cdev_open(EDU_SW);
	CHECK(ctx, edu.fd >= 0 && vfio_lu_attach(&edu) == 0 && vfio_lu_get_info(edu.fd, &info) == 0,
	      "%s opens as an ordinary vfio-pci device", EDU_SW);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
