// SPDX-License-Identifier: GPL-2.0
/*
 * A preserved vfio-pci device's DMA keeps being translated through the
 * kexec, by the mappings the VMM made before it, into guest memory held in
 * a preserved memfd.
 *
 * Stage 1, as a VMM: edu 04:00.0 on vfio-pci, bound to iommufd, its IOAS
 * maps a 16 MiB memfd ("guest memory") at IOVA_BASE with IOMMU_IOAS_MAP_FILE.
 * edu copies a pattern page into its buffer and from there into guest
 * pages, then the memfd and the VFIO file are preserved and one more DMA
 * (to the page of IN_KEXEC) is armed to fire 100 ms after the IOMMU was
 * handed over, i.e. while the next kernel boots.
 *
 * Stage 2, before anything retrieves the device (no driver bound): edu,
 * programmed through sysfs BAR0, copies its buffer to a guest page by IOVA
 * and reads a guest page back, through the carried mappings. Then the
 * memfd is retrieved and every page is checked: the pattern where each DMA
 * was aimed, the fill everywhere else. Last, the VMM's new sequence:
 * retrieve the VFIO file, bind iommufd, map the same memfd at the same IOVA
 * in a new IOAS, attach (the carried translation ends), DMA again, finish.
 *
 * The in-kexec DMA uses the knob dma_window proves fires after the IOMMU
 * handover (its fault is logged before the next kernel's VT-d init).
 *
 * Built as dma_continuous_unpreserved (DMA_UNPRESERVED), the IOAS also maps
 * an anonymous buffer, which no kernel hands over: nothing of the device's
 * translation may be carried, so every DMA before the new attach is
 * blocked (faults logged) and guest memory is untouched by it.
 *
 * Built as dma_continuous_memfd_closed (DMA_MEMFD_CLOSED), guest memory is
 * preserved in a session of its own, and before the device is attached
 * again the VMM closes the retrieved memfd and finishes that session, so
 * LUO lets go of the memory too; a new 64 MiB memfd would reuse the freed
 * pages. The carried translation holds the old memory, so DMA still lands
 * there and the new memory stays untouched; after the new IOAS (over the
 * new memfd) is attached, DMA lands in the new memory.
 *
 * Built as dma_continuous_tables_changed (DMA_TABLES_CHANGED), a test knob
 * changes the device's page tables after the kexec checked and preserved
 * them (an ignored bit of an empty entry): the IOMMU shutdown must notice
 * and carry nothing, so the DMA is blocked as in the unpreserved case.
 *
 * For `make bench`, stage 2 prints TSC stamps (BENCH lines): when it
 * starts, when its first DMA has landed, and around the IOAS attach.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pci_lu.h"
#include "vfio_lu.h"

#define SESSION		"dma-continuous"
#ifdef DMA_MEMFD_CLOSED
#define SESSION_MEM	"dma-continuous-mem"
#else
#define SESSION_MEM	SESSION
#endif
#define GUEST_SIZE	(16UL << 20)
#define IOVA_BASE	0x1000000UL	/* below edu's 28-bit DMA limit */
#define PAGE		4096UL
#define FILL		0x11
#define FILL2		0x22		/* DMA_MEMFD_CLOSED: the new memfd */
#define OTHER_SIZE	(64UL << 20)
#define CLOSED		250		/* DMA_MEMFD_CLOSED: after the close */
#define ANON_IOVA	0x3000000UL	/* DMA_UNPRESERVED: anonymous memory */

#if defined(DMA_UNPRESERVED) || defined(DMA_TABLES_CHANGED)
static const bool carried;
#else
static const bool carried = true;
#endif

/* Guest pages (index into the memfd) and what each one is for. */
enum {
	HANDOFF = 0,		/* stage 1's timing for stage 2 */
	PATTERN = 1,		/* source of edu's buffer */
	STAGE1_FIRST = 2,	/* STAGE1_N DMAs in kernel 1 */
	STAGE1_N = 8,
	IN_KEXEC = 100,		/* fired 100 ms after the IOMMU handover */
	BEFORE_RETRIEVE = 200,	/* kernel 2, carried translation */
	READ_BACK = 201,	/* kernel 2: read through the carried translation */
	AFTER_ATTACH = 300,	/* kernel 2, new IOAS */
};

static uint64_t iova(unsigned long page)
{
	return IOVA_BASE + page * PAGE;
}

static void fill_pattern(uint8_t *p, uint8_t seed)
{
	for (unsigned long i = 0; i < PAGE; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* What untouched guest memory holds. */
static uint8_t fill = FILL;

/* The first EDU_DMA_LEN bytes of @p hold the pattern of @seed, the rest fill. */
static bool has_pattern(const uint8_t *p, uint8_t seed)
{
	for (unsigned long i = 0; i < PAGE; i++)
		if (p[i] != (i < EDU_DMA_LEN ? (uint8_t)(seed + i * 13) : fill))
			return false;
	return true;
}

static bool is_fill(const uint8_t *p)
{
	for (unsigned long i = 0; i < PAGE; i++)
		if (p[i] != fill)
			return false;
	return true;
}

static int map_file(struct vfio_lu_dev *d, int memfd)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = d->ioas,
		.fd = memfd,
		.start = 0,
		.length = GUEST_SIZE,
		.iova = IOVA_BASE,
	};

	return ioctl(d->iommufd, IOMMU_IOAS_MAP_FILE, &m) ? -errno : 0;
}

static const char *const edu_path[] = { SWITCH_DN1, SWITCH_UP, ROOT_PORT2 };

/* A new memfd of @size, mapped and filled with @with; NULL on failure. */
static uint8_t *new_memory(struct pci_lu_ctx *ctx, const char *name, size_t size,
			   uint8_t with, int *fd)
{
	uint8_t *m;

	*fd = memfd_create(name, 0);
	if (!CHECK(ctx, *fd >= 0 && ftruncate(*fd, size) == 0, "memfd %s of %zu MiB", name,
		   size >> 20))
		return NULL;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (!CHECK(ctx, m != MAP_FAILED, "map memfd %s", name))
		return NULL;
	memset(m, with, size);
	return m;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT;
	char arm[64];
	uint8_t *g;
	int s, s_mem, memfd, ok = 1;

	g = new_memory(ctx, "guest", GUEST_SIZE, FILL, &memfd);
	if (!g)
		return 1;
	fill_pattern(g + PATTERN * PAGE, 0x5a);

	if (!CHECK(ctx, vfio_lu_bind_driver(EDU_SW) == 0, "%s bound to vfio-pci", EDU_SW))
		return 1;
	edu.fd = vfio_lu_cdev_open(EDU_SW);
	if (!CHECK(ctx, edu.fd >= 0 && vfio_lu_attach(&edu) == 0 && edu.bar0,
		   "%s open, bound to iommufd, attached, BAR0 mapped", EDU_SW))
		return 1;
	CHECK(ctx, map_file(&edu, memfd) == 0, "guest memfd mapped at IOVA %#lx (MAP_FILE)",
	      IOVA_BASE);
#ifdef DMA_UNPRESERVED
	{
		void *anon = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		CHECK(ctx, anon != MAP_FAILED &&
		      vfio_lu_dma_map(&edu, anon, 2 * PAGE, ANON_IOVA) == 0,
		      "anonymous memory mapped at IOVA %#lx too", ANON_IOVA);
	}
#endif
	for (unsigned int i = 0; i < ARRAY_SIZE(edu_path); i++)
		CHECK(ctx, pci_lu_set_bus_master(edu_path[i]) == 0, "Bus Master on %s",
		      edu_path[i]);
	CHECK(ctx, vfio_lu_set_master(&edu) == 0, "Bus Master on %s through VFIO", EDU_SW);

	ok = edu_dma(edu.bar0, iova(PATTERN), EDU_BUF, EDU_DMA_LEN, 0) == 0;
	for (int i = 0; ok && i < STAGE1_N; i++)
		ok = edu_dma(edu.bar0, EDU_BUF, iova(STAGE1_FIRST + i), EDU_DMA_LEN,
			     EDU_DMA_TO_RAM) == 0 &&
		     has_pattern(g + (STAGE1_FIRST + i) * PAGE, 0x5a);
	CHECK(ctx, ok, "%d edu DMAs through the IOAS land in guest memory", STAGE1_N);

	s = luo_create_session(ctx, SESSION);
	if (!CHECK(ctx, s >= 0, "create session %s", SESSION))
		return 1;
	s_mem = strcmp(SESSION_MEM, SESSION) ? luo_create_session(ctx, SESSION_MEM) : s;
	CHECK(ctx, s_mem >= 0 && luo_preserve_fd(s_mem, memfd, 2) == 0,
	      "preserve the guest memfd in session %s", SESSION_MEM);
	CHECK(ctx, luo_preserve_fd(s, edu.fd, 1) == 0, "preserve the VFIO file of %s", EDU_SW);

#ifdef DMA_TABLES_CHANGED
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/corrupt_iommu_handover", "2") == 0,
	      "the carried page tables will change after they were checked");
#endif
	/* Last: the knob writes edu's DMA registers now, the command at the kexec. */
	snprintf(arm, sizeof(arm), "%s %lx", EDU_SW, (unsigned long)iova(IN_KEXEC));
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/dma_after_iommu_shutdown", arm) == 0,
	      "edu DMA to IOVA %#lx armed for right after the IOMMU handover",
	      (unsigned long)iova(IN_KEXEC));
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	unsigned long long t_start = pci_lu_tsc(), t_dma, t_attach0, t_attach1;
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT;
	volatile uint8_t *bar;
	char drv[64], msg[128];
	int s, s_mem, memfd, ret;
	uint8_t *g;

	/* What the kernel left, before anything touches the device. */
	pci_lu_driver(EDU_SW, drv, sizeof(drv));
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1 && pci_lu_bus_master(EDU_SW) == 1 && !drv[0],
	      "%s incoming, mastering, no driver", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has(carried ? "1 carried context(s)" : "0 carried context(s)"),
	      "VT-d kept translating and carried %s", carried ? "one context" : "nothing");
	snprintf(msg, sizeof(msg), "Request device [0000:04:00.0] fault addr 0x%lx",
		 (unsigned long)iova(IN_KEXEC));
	if (carried)
		CHECK(ctx, !pci_lu_dmesg_has("Request device [0000:04:00.0] fault"),
		      "no DMAR fault for %s: the in-kexec DMA was translated", EDU_SW);
	else
		CHECK(ctx, pci_lu_dmesg_before(msg, "DMAR: dmar0: Using Queued invalidation"),
		      "the in-kexec DMA was blocked: '%s' logged at VT-d init", msg);

	/* DMA through the carried translation, the device still unretrieved. */
	bar = pci_lu_map_bar0(EDU_SW);
	if (!CHECK(ctx, bar, "BAR0 of %s mapped through sysfs", EDU_SW))
		return 1;
	CHECK(ctx, edu_dma(bar, EDU_BUF, iova(BEFORE_RETRIEVE), EDU_DMA_LEN, EDU_DMA_TO_RAM) == 0,
	      "edu DMA to IOVA %#lx completes before retrieve",
	      (unsigned long)iova(BEFORE_RETRIEVE));
	t_dma = pci_lu_tsc();
	if (carried)
		CHECK(ctx, edu_dma(bar, iova(PATTERN), EDU_BUF, EDU_DMA_LEN, 0) == 0 &&
		      edu_dma(bar, EDU_BUF, iova(READ_BACK), EDU_DMA_LEN, EDU_DMA_TO_RAM) == 0,
		      "edu reads guest memory by IOVA and writes it back before retrieve");
	else
		CHECK(ctx, pci_lu_dmesg_has("Request device [0000:04:00.0] fault addr 0x10c8000"),
		      "the DMA before retrieve was blocked (fault logged)");

	s = luo_retrieve_session(ctx, SESSION);
	if (!CHECK(ctx, s >= 0, "retrieve session %s", SESSION))
		return 1;
	s_mem = strcmp(SESSION_MEM, SESSION) ? luo_retrieve_session(ctx, SESSION_MEM) : s;
	memfd = s_mem >= 0 ? luo_retrieve_fd(s_mem, 2) : -ENOENT;
	if (!CHECK(ctx, memfd >= 0, "retrieve the guest memfd (%d)", memfd))
		return 1;
	g = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (!CHECK(ctx, g != MAP_FAILED, "map retrieved guest memory"))
		return 1;
	if (carried) {
		CHECK(ctx, has_pattern(g + IN_KEXEC * PAGE, 0x5a),
		      "the DMA fired during the kexec landed at its IOVA's guest page");
		CHECK(ctx, has_pattern(g + BEFORE_RETRIEVE * PAGE, 0x5a),
		      "the DMA before retrieve landed at its IOVA's guest page");
		CHECK(ctx, has_pattern(g + READ_BACK * PAGE, 0x5a),
		      "the read through the carried translation got guest data");
	}
	ret = 0;
	for (unsigned long p = 0; p < GUEST_SIZE / PAGE; p++) {
		bool dma = (p >= STAGE1_FIRST && p < STAGE1_FIRST + STAGE1_N) ||
			   (carried && (p == IN_KEXEC || p == BEFORE_RETRIEVE || p == READ_BACK));

		if (p == HANDOFF || p == PATTERN)
			continue;
		if (dma ? !has_pattern(g + p * PAGE, 0x5a) : !is_fill(g + p * PAGE))
			ret++;
	}
	CHECK(ctx, ret == 0, "all %lu guest pages hold what they should (%d differ)",
	      GUEST_SIZE / PAGE, ret);

#ifdef DMA_MEMFD_CLOSED
	/* The VMM lets go of guest memory while the device still reaches it. */
	munmap(g, GUEST_SIZE);
	close(memfd);
	CHECK(ctx, luo_finish_session(s_mem) == 0 && close(s_mem) == 0,
	      "session %s finished and closed: LUO holds the memory no more", SESSION_MEM);
	g = new_memory(ctx, "other", OTHER_SIZE, FILL2, &memfd);
	if (!g)
		return 1;
	fill = FILL2;
	CHECK(ctx, edu_dma(bar, EDU_BUF, iova(CLOSED), EDU_DMA_LEN, EDU_DMA_TO_RAM) == 0,
	      "edu DMA by IOVA after the guest memfd was closed");
	ret = 0;
	for (unsigned long p = 0; p < OTHER_SIZE / PAGE; p++)
		ret += !is_fill(g + p * PAGE);
	CHECK(ctx, ret == 0,
	      "the new memory is untouched (%d of %lu pages differ): the carried translation holds the old",
	      ret, OTHER_SIZE / PAGE);
#endif

	/* The VMM's sequence: the same memory at the same IOVA, then attach. */
	edu.fd = luo_retrieve_fd(s, 1);
	if (!CHECK(ctx, edu.fd >= 0, "retrieve the VFIO file of %s (%d)", EDU_SW, edu.fd))
		return 1;
	CHECK(ctx, vfio_lu_bind(&edu) == 0, "bind iommufd, with a new IOAS");
	if (carried) {
		CHECK(ctx, !pci_lu_dmesg_has("04:00.0: carried translation ended"),
		      "binding iommufd keeps the carried translation");
#ifndef DMA_MEMFD_CLOSED
		CHECK(ctx, edu_dma(bar, EDU_BUF, iova(AFTER_ATTACH - 1), EDU_DMA_LEN,
				   EDU_DMA_TO_RAM) == 0 &&
		      has_pattern(g + (AFTER_ATTACH - 1) * PAGE, 0x5a),
		      "DMA between bind and attach still lands in guest memory");
#endif
	}
	CHECK(ctx, map_file(&edu, memfd) == 0, "same memfd mapped at the same IOVA");
	t_attach0 = pci_lu_tsc();
	ret = vfio_lu_attach_ioas(&edu);
	t_attach1 = pci_lu_tsc();
	CHECK(ctx, ret == 0, "attach the new IOAS (%d)", ret);
	if (carried)
		CHECK(ctx, pci_lu_dmesg_has("04:00.0: carried translation ended"),
		      "attaching a new domain ended the carried translation");
	CHECK(ctx, edu_dma(bar, EDU_BUF, iova(AFTER_ATTACH), EDU_DMA_LEN, EDU_DMA_TO_RAM) == 0 &&
	      has_pattern(g + AFTER_ATTACH * PAGE, 0x5a),
	      "DMA after attach lands through the new IOAS");
	if (carried)
		CHECK(ctx, !pci_lu_dmesg_has("Request device [0000:04:00.0] fault"),
		      "no DMAR fault for %s at any point", EDU_SW);
	CHECK(ctx, luo_finish_session(s) == 0, "finish session %s", SESSION);
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 1, "%s still masters", EDU_SW);
	printf("BENCH dma carried %d tsc_per_us %.3f tsc_stage2_start %llu tsc_first_dma %llu tsc_attach %llu %llu\n",
	       carried, pci_lu_tsc_per_us(), t_start, t_dma, t_attach0, t_attach1);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
