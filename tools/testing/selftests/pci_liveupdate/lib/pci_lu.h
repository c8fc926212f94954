/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Two-stage PCI Live Update selftest framework.
 *
 * A test is one C file that defines a stage-1 and a stage-2 function and
 * ends with PCI_LU_TEST(stage1, stage2). Stage 1 runs in the first kernel,
 * preserves what it wants through /dev/liveupdate and returns; the
 * framework keeps its file descriptors alive in a holder process, and
 * /init kexecs. Stage 2 runs in the second kernel and decides the verdict
 * from what that kernel reports. Each check prints a KTAP line.
 */
#ifndef PCI_LU_H
#define PCI_LU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(arr) (sizeof(arr) / sizeof((arr)[0]))
#endif

/* Devices of the QEMU topology (scripts/vm). */
#define NVME_PF		"0000:01:00.0"
#define NVME_VF		"0000:01:00.1"
#define ROOT_PORT1	"0000:00:01.0"
#define ROOT_PORT2	"0000:00:02.0"
#define SWITCH_UP	"0000:02:00.0"
#define SWITCH_DN1	"0000:03:00.0"
#define SWITCH_DN2	"0000:03:01.0"
#define EDU_SW		"0000:04:00.0"	/* behind the switch */
#define TESTDEV_SW	"0000:05:00.0"	/* behind the switch */
#define ROOT_PORT3	"0000:00:03.0"
#define E1000E		"0000:06:00.0"	/* on a root port */
#define ROOT_PORT4	"0000:00:04.0"
#define EDU_RP		"0000:07:00.0"	/* on a root port */
#define ROOT_PORT5	"0000:00:05.0"
#define NVME_CTL	"0000:08:00.0"	/* control nvme, never preserved */

#define PCI_LU_DEBUGFS	"/sys/kernel/debug/pci_liveupdate"

/* Fault numbers of the debugfs "inject" file (drivers/pci/liveupdate/test_api.rs). */
#define PCI_LU_TEST_FAIL_NEXT_ALLOC	1
#define PCI_LU_TEST_CORRUPT_CHECKSUM	2
#define PCI_LU_TEST_CORRUPT_COUNT	3
#define PCI_LU_TEST_CORRUPT_ORDER	4
#define PCI_LU_TEST_CORRUPT_MAGIC	5
#define PCI_LU_TEST_CORRUPT_REFCOUNT	6
#define PCI_LU_TEST_CORRUPT_DUPLICATE	7
#define PCI_LU_TEST_CORRUPT_CAPACITY	8
#define PCI_LU_TEST_CORRUPT_ZERO_REFCOUNT	9
#define PCI_LU_TEST_CORRUPT_HEADER	10
#define PCI_LU_TEST_FORCE_ACS_QUIRK	11
#define PCI_LU_TEST_LEAK		12

struct pci_lu_entry {
	char bdf[16];
	unsigned int refcount, vendor, device, class, flags;
};

/* Framework state; tests only pass it around. */
struct pci_lu_ctx {
	const char *name;
	int stage;
	int luo_fd;
	int checks, failed;
	bool next_hop;
};

typedef int (*pci_lu_stage_fn)(struct pci_lu_ctx *ctx);

int pci_lu_main(int argc, char **argv, const char *name,
		pci_lu_stage_fn stage1, pci_lu_stage_fn stage2);

#define PCI_LU_TEST(s1, s2)						\
	int main(int argc, char **argv)					\
	{								\
		return pci_lu_main(argc, argv, TEST_NAME, s1, s2);	\
	}

/*
 * Multi-hop tests: stage 2 runs again in every later kernel (ctx->stage is
 * 2, 3, ...). Calling pci_lu_next_hop() from it keeps the test's files open
 * and makes /init kexec once more; pci_lu_declare_stages() (from stage 1)
 * tells the runner how many stages must pass.
 */
void pci_lu_next_hop(struct pci_lu_ctx *ctx);
void pci_lu_declare_stages(struct pci_lu_ctx *ctx, int n);

/* Records one check as a KTAP line; returns @ok. */
bool pci_lu_check(struct pci_lu_ctx *ctx, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define CHECK(ctx, cond, ...) pci_lu_check(ctx, (cond), __VA_ARGS__)
void pci_lu_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* LUO sessions. Each returns an fd or -errno. */
int luo_create_session(struct pci_lu_ctx *ctx, const char *name);
int luo_retrieve_session(struct pci_lu_ctx *ctx, const char *name);
int luo_preserve_fd(int session, int fd, uint64_t token);
int luo_retrieve_fd(int session, uint64_t token);
int luo_finish_session(int session);

/* Test handler: an fd bound to @bdf, or -errno. */
int pci_lu_test_fd(const char *bdf);
/* Preserve @bdf in @session under @token; returns 0 or -errno. */
int pci_lu_preserve(int session, const char *bdf, uint64_t token);

/* Debugfs/sysfs helpers. 0 or -errno. */
int pci_lu_write(const char *path, const char *val);
int pci_lu_read(const char *path, char *buf, size_t len);
int pci_lu_inject(int fault);
/* Parse the debugfs "incoming"/"outgoing" table: count or -errno. */
int pci_lu_table(const char *which, struct pci_lu_entry *e, int max);
/* Entries the outgoing array has room for, or -errno. */
int pci_lu_capacity(void);
const struct pci_lu_entry *pci_lu_find(const struct pci_lu_entry *e, int n,
				       const char *bdf);
/* Device status from debugfs "status": 1 incoming, 0 not, -ENOENT absent. */
int pci_lu_incoming(const char *bdf);
/* Number of devices the "status" file reports as incoming. */
int pci_lu_incoming_count(void);
/* Whether the kernel log holds @needle. */
/* edu 04:00.0 and the bridges above it, device first. */
#define EDU_SW_PATH_LEN	4
extern const char *const pci_lu_edu_sw_path[EDU_SW_PATH_LEN];
/*
 * Sets Bus Master on edu 04:00.0 and its bridges and preserves it through
 * the test handler in @session with @token; each step is a check.
 */
void pci_lu_preserve_edu_mastering(struct pci_lu_ctx *ctx, int session, uint64_t token);
/* Checks that edu 04:00.0 and its bridges arrived with Bus Master off. */
void pci_lu_check_edu_stopped_by_kexec(struct pci_lu_ctx *ctx);

bool pci_lu_dmesg_has(const char *needle);
/* Whether the kernel log has @first, and @then after it. */
bool pci_lu_dmesg_before(const char *first, const char *then);
/* Config space word at @off of @bdf, or -errno. */
int pci_lu_config_word(const char *bdf, int off);
/* Whether @bdf is a QEMU edu device (1234:11e8). */
bool pci_lu_is_edu(const char *bdf);
/* Write config space word at @off of @bdf; 0 or -errno. */
int pci_lu_config_write_word(const char *bdf, int off, uint16_t val);
/* Bus numbers of a bridge from config space; 0 or -errno. */
int pci_lu_bridge_buses(const char *bdf, int *secondary, int *subordinate);
/* Bus numbers as one value 0xUUSSPP (subordinate, secondary, primary), or -errno. */
int pci_lu_bus_triple(const char *bdf);
/* Config space dword at @off (root reads all 4 KiB), or -errno in *err. */
uint32_t pci_lu_config_dword(const char *bdf, int off, int *err);
/* Offset of capability @id (standard) or extended capability @id, or 0. */
int pci_lu_find_cap(const char *bdf, int id);
int pci_lu_find_ext_cap(const char *bdf, int id);
/* Name of the bound driver into @name ("" if none). */
void pci_lu_driver(const char *bdf, char *name, size_t len);
/* Unbind @bdf from its driver, if any; 0 or -errno. */
int pci_lu_unbind(const char *bdf);
/* Map BAR0 through sysfs resource0; NULL on error. */
volatile uint8_t *pci_lu_map_bar0(const char *bdf);
/*
 * A field of the debugfs "status" line of @bdf ("path", "outgoing",
 * "bm_at_enum"): 1, 0, or -ENOENT.
 */
int pci_lu_status_field(const char *bdf, const char *field);
/* Bus Master bit of the Command register now: 1, 0, or -errno. */
int pci_lu_bus_master(const char *bdf);
/* Sets Memory Space and Bus Master and reads them back; 0 or -errno. */
int pci_lu_set_bus_master(const char *bdf);
/*
 * Config writes the test kernel counted to the watched function @bdf (each
 * logged), or -1 if it is not watched.
 */
int pci_lu_config_writes(const char *bdf);
/*
 * The probe record of @bdf in the "incoming" or "outgoing" table: the
 * PCI_DEV_SER_P_* bits and the BAR orders as dash-separated hex bytes.
 * 0, -ENOENT without an entry, or -EIO.
 */
int pci_lu_probe_record(const char *which, const char *bdf, unsigned int *probe,
			char *bars, size_t len);
/* ACS Control, or -ENOENT without an ACS capability, or -errno. */
int pci_lu_acs_ctrl(const char *bdf);
/* ARI Forwarding Enable in DEVCTL2: 1, 0, -ENOENT if not PCIe, or -errno. */
int pci_lu_ari_fwd(const char *bdf);
/*
 * Checks every bridge's primary/secondary/subordinate bus against what
 * SeaBIOS assigns to the topology of scripts/vm; @when prefixes the lines.
 */
void pci_lu_check_firmware_buses(struct pci_lu_ctx *ctx, const char *when);
/* Extra kernel arguments for the second kernel (init appends them). */
int pci_lu_stage2_cmdline(const char *args);
/*
 * The extra edu endpoints of the scale topology (scripts/vm -x), sorted:
 * up to @max BDFs into @bdf; their number.
 */
int pci_lu_scale_edus(char bdf[][16], int max);
/* Whether /proc/cmdline holds @needle. */
bool pci_lu_cmdline_has(const char *needle);

/* The TSC, which QEMU keeps running across the kexec (benchmarks). */
static inline unsigned long long pci_lu_tsc(void)
{
	return __builtin_ia32_rdtsc();
}

/* TSC ticks per microsecond, against CLOCK_MONOTONIC over 200 ms. */
double pci_lu_tsc_per_us(void);

#endif /* PCI_LU_H */
