// SPDX-License-Identifier: GPL-2.0
/*
 * One of the kernel's own LUO kexec tests (tools/testing/selftests/
 * liveupdate/luo_*.c of the fetched 7.3 tree) through this project's
 * runner, on the project's kernel and topology. Built once per upstream
 * test as upstream_<test>, with UPSTREAM_TEST and UPSTREAM_STATE (the
 * name of that test's state session) defined.
 *
 * Stage N runs "<test> -s N". The upstream test leaves a daemon holding
 * its sessions in stage 1 and finishes them in stage 2. Besides its exit
 * status, LUO itself is asked: after stage 1 its state session must exist
 * (a second one of that name is refused), after stage 2 it must be gone
 * (finished and released, so it cannot be retrieved again).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "pci_lu.h"
#include "upstream.h"

static int run_stage(struct pci_lu_ctx *ctx, const char *stage)
{
	char *const argv[] = { "/upstream/liveupdate/" UPSTREAM_TEST, "-s", (char *)stage, NULL };
	struct ksft_run r;

	/* /dev/liveupdate is exclusive: the upstream test opens it itself. */
	close(ctx->luo_fd);
	ksft_run(argv, NULL, true, &r);
	ctx->luo_fd = open("/dev/liveupdate", O_RDWR);
	CHECK(ctx, r.status == 0 && r.fail == 0,
	      "upstream " UPSTREAM_TEST " -s %s: exit %d, %d failures", stage, r.status, r.fail);
	return ctx->luo_fd < 0;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	int s;

	if (run_stage(ctx, "1"))
		return 1;
	s = luo_create_session(ctx, UPSTREAM_STATE);
	CHECK(ctx, s == -EEXIST, "its state session " UPSTREAM_STATE " is outgoing (create: %d)",
	      s);
	if (s >= 0)
		close(s);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int s;

	if (run_stage(ctx, "2"))
		return 1;
	s = luo_retrieve_session(ctx, UPSTREAM_STATE);
	CHECK(ctx, s == -ENOENT, "its state session " UPSTREAM_STATE
	      " was retrieved and finished (retrieve: %d)", s);
	if (s >= 0)
		close(s);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
