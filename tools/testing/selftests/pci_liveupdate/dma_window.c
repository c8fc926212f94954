// SPDX-License-Identifier: GPL-2.0
/*
 * A preserved device keeps Bus Master across the kexec; its DMA must not
 * reach memory the next kernel owns while the IOMMU changes hands.
 *
 * Stage 1 preserves edu 04:00.0 (mastering, with its bridges) and a memfd
 * whose pages the next kernel receives. One page of the memfd below edu's
 * 28-bit DMA limit is filled with a canary, and the test knob arms edu to
 * write 1 KiB to the bus address equal to that page's physical address,
 * right after the kexec shut the IOMMU down: edu performs it 100 ms later,
 * while the next kernel boots. Untranslated, the write lands in the canary
 * page. Stage 2 requires the canary intact, and proof that the DMA did
 * happen and was blocked: a DMAR fault logged for 04:00.0 at that address.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pci_lu.h"

#define MEMFD_SIZE	(128UL << 20)
#define PAGE		4096UL
#define EDU_DMA_LIMIT	(256UL << 20)	/* edu DMA addresses have 28 bits */
#define CANARY		0xc3
#define SESSION		"dma-window"
#define DAMAGED_MSG \
	"DMAR: Live Update: handover refused: the VT-d handover record is damaged"
#define STOPPED_MSG \
	"0000:04:00.0: cleared Bus Master left set by the previous kernel (no IOMMU handover keeps its DMA translated)"

/* What page 0 of the memfd tells stage 2. */
struct handoff {
	uint64_t canary_off;
	uint64_t canary_phys;
};

/* Physical address of the page mapped at @p, or 0. */
static uint64_t phys_of(const void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (uintptr_t)p / PAGE * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	if (!(e & (1ULL << 63)))
		return 0;
	return (e & ((1ULL << 55) - 1)) * PAGE;
}

static bool page_is(const uint8_t *p, uint8_t v)
{
	for (unsigned long i = 0; i < PAGE; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Every page but the handoff (0) and the canary still holds the fill. */
static bool rest_intact(const uint8_t *m, uint64_t canary_off)
{
	for (unsigned long off = PAGE; off < MEMFD_SIZE; off += PAGE)
		if (off != canary_off && !page_is(m + off, 0x11))
			return false;
	return true;
}

/*
 * Touches anonymous memory until the page allocator hands out a page below
 * edu's DMA limit, so that the memfd allocated next gets such pages too
 * (which pages come first differs between kernel configs). Returns the
 * mapping to unmap once the memfd is filled, or MAP_FAILED.
 */
#define BALLAST_MAX	(1280UL << 20)
static uint8_t *ballast(void)
{
	uint8_t *b = mmap(NULL, BALLAST_MAX, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	for (unsigned long off = 0; b != MAP_FAILED && off < BALLAST_MAX; off += PAGE) {
		uint64_t phys;

		b[off] = 1;
		phys = phys_of(b + off);
		if (phys && phys + PAGE <= EDU_DMA_LIMIT)
			break;
	}
	return b;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct handoff *h;
	uint8_t *m, *b;
	char arm[64];
	int s, fd;

	s = luo_create_session(ctx, SESSION);
	if (!CHECK(ctx, s >= 0, "create session %s (%d)", SESSION, s))
		return 1;
	pci_lu_preserve_edu_mastering(ctx, s, 1);

	b = ballast();
	fd = memfd_create("dma-window", 0);
	if (!CHECK(ctx, fd >= 0 && ftruncate(fd, MEMFD_SIZE) == 0, "memfd of %lu MiB",
		   MEMFD_SIZE >> 20))
		return 1;
	m = mmap(NULL, MEMFD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!CHECK(ctx, m != MAP_FAILED, "map the memfd"))
		return 1;
	memset(m, 0x11, MEMFD_SIZE);
	h = (struct handoff *)m;
	h->canary_off = 0;
	for (unsigned long off = PAGE; off < MEMFD_SIZE && !h->canary_off; off += PAGE) {
		uint64_t phys = phys_of(m + off);

		if (phys && phys + PAGE <= EDU_DMA_LIMIT) {
			h->canary_off = off;
			h->canary_phys = phys;
		}
	}
	if (b != MAP_FAILED)
		munmap(b, BALLAST_MAX);
	if (!CHECK(ctx, h->canary_off, "a memfd page below edu's 28-bit DMA limit"))
		return 1;
	memset(m + h->canary_off, CANARY, PAGE);
	pci_lu_log("canary page: memfd offset %#llx, physical %#llx",
		   (unsigned long long)h->canary_off, (unsigned long long)h->canary_phys);
	CHECK(ctx, luo_preserve_fd(s, fd, 2) == 0, "preserve the memfd");
	CHECK(ctx, phys_of(m + h->canary_off) == h->canary_phys,
	      "the canary page did not move when preserved");

#ifdef DMA_WINDOW_CORRUPT
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/corrupt_iommu_handover", "1") == 0,
	      "the VT-d handover record will be damaged after it is prepared");
#endif
	snprintf(arm, sizeof(arm), "%s %llx", EDU_SW, (unsigned long long)h->canary_phys);
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/dma_after_iommu_shutdown", arm) == 0,
	      "edu DMA to %#llx armed for right after the IOMMU shutdown",
	      (unsigned long long)h->canary_phys);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct handoff h;
	char fault[96];
	uint8_t *m;
	int s, fd;

	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1, "%s is incoming", EDU_SW);
	s = luo_retrieve_session(ctx, SESSION);
	if (!CHECK(ctx, s >= 0, "retrieve session %s (%d)", SESSION, s))
		return 1;
	fd = luo_retrieve_fd(s, 2);
	if (!CHECK(ctx, fd >= 0, "retrieve the memfd (%d)", fd))
		return 1;
	m = mmap(NULL, MEMFD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!CHECK(ctx, m != MAP_FAILED, "map the retrieved memfd"))
		return 1;
	memcpy(&h, m, sizeof(h));
	if (!CHECK(ctx, h.canary_off && h.canary_off < MEMFD_SIZE, "handoff read (offset %#llx)",
		   (unsigned long long)h.canary_off))
		return 1;
	CHECK(ctx, page_is(m + h.canary_off, CANARY),
	      "canary page (physical %#llx) intact: the DMA in the kexec window did not reach it",
	      (unsigned long long)h.canary_phys);
	CHECK(ctx, rest_intact(m, h.canary_off), "every other page of the memfd intact");
	snprintf(fault, sizeof(fault), "Request device [0000:04:00.0] fault addr 0x%llx",
		 (unsigned long long)h.canary_phys);
	/* Faults are printed when VT-d init starts: the DMA was in the window. */
	CHECK(ctx, pci_lu_dmesg_before(fault, "DMAR: dmar0: Using Queued invalidation"),
	      "the DMA happened in the window and was blocked: '%s' logged at VT-d init",
	      fault);
#ifdef DMA_WINDOW_CORRUPT
	CHECK(ctx, pci_lu_dmesg_has(DAMAGED_MSG),
	      "the damaged VT-d record was refused");
	CHECK(ctx, pci_lu_dmesg_has(STOPPED_MSG) &&
	      pci_lu_bus_master(EDU_SW) == 0,
	      "%s stopped at enumeration, reason logged", EDU_SW);
#else
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 1 &&
	      pci_lu_dmesg_has("translation kept on from the previous kernel"),
	      "%s still masters; VT-d kept translating", EDU_SW);
#endif
	fd = luo_retrieve_fd(s, 1);
	CHECK(ctx, fd >= 0, "retrieve the device file of %s (%d)", EDU_SW, fd);
	CHECK(ctx, luo_finish_session(s) == 0, "finish session %s", SESSION);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
