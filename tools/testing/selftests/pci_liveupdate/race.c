// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency. Stage 1, for a few seconds: workers preserve and unpreserve
 * (close their session) four devices at random, each in sessions of its
 * own, while one thread reads the outgoing table and the status of every
 * device and another removes two of the devices and rescans the bus. Every
 * call must end in success or a documented refusal, every table read must
 * be well formed, and once all sessions are closed nothing may be left
 * preserved. Then one device is preserved for good, and child processes
 * keep preserving and unpreserving the others while /init kexecs. Stage 2:
 * the handed-over table is valid, the kept device came back mastering,
 * whatever else crossed belongs to a session that crossed, and every
 * session finishes, leaving nothing incoming.
 *
 * Run under the stress kernel (make stress), lockdep, KCSAN, KFENCE and
 * list debugging watch the same races.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pci_lu.h"

#define RACE_SECONDS	8
#define RACE_MAX_SECONDS	40
#define WORKERS		4
#define CHILDREN	3
#define KEEP		EDU_SW

static const char *const devs[] = { TESTDEV_SW, E1000E, EDU_RP, NVME_PF };
#define NDEVS	ARRAY_SIZE(devs)
/* Removed and rescanned during the race. */
static const char *const hotplug[] = { TESTDEV_SW, EDU_RP };

static struct pci_lu_ctx *g_ctx;
static atomic_bool stop;
static atomic_int preserved, refused, unexpected, reads, bad_reads, removals;

static bool expected_refusal(int err)
{
	switch (err) {
	case -EBUSY:	/* preserved through another file */
	case -ENODEV:	/* being removed, or gone */
	case -EAGAIN:	/* another preserve, a bind, unbind or removal held the device lock */
		return true;
	}
	return false;
}

/*
 * One round: open, preserve in a new session, close it again. A session
 * name is free again once closed, so each thread reuses its own.
 */
static void churn(unsigned int *seed, const char *prefix, int id, int hold_us)
{
	const char *bdf = devs[rand_r(seed) % NDEVS];
	char name[64];
	int fd, s, ret;

	snprintf(name, sizeof(name), "%s-%d", prefix, id);
	s = luo_create_session(g_ctx, name);
	if (s < 0) {
		atomic_fetch_add(&unexpected, 1);
		pci_lu_log("create session %s: %d", name, s);
		return;
	}
	fd = pci_lu_test_fd(bdf);
	ret = fd < 0 ? fd : luo_preserve_fd(s, fd, 1);
	if (ret == 0) {
		atomic_fetch_add(&preserved, 1);
	} else if (expected_refusal(ret)) {
		atomic_fetch_add(&refused, 1);
	} else {
		atomic_fetch_add(&unexpected, 1);
		pci_lu_log("preserve %s: %d", bdf, ret);
	}
	if (fd >= 0)
		close(fd);
	if (rand_r(seed) & 1)
		usleep(rand_r(seed) % hold_us);
	close(s);	/* unpreserves */
}

static void *worker(void *arg)
{
	unsigned int seed = (unsigned int)(long)arg * 7919 + 1;

	while (!atomic_load(&stop))
		churn(&seed, "race", (int)(long)arg, 2000);
	return NULL;
}

/* The only thread using the helpers that parse into static buffers. */
static void *reader(void *arg)
{
	static struct pci_lu_entry e[64];
	int n;

	while (!atomic_load(&stop)) {
		n = pci_lu_table("outgoing", e, 64);
		atomic_fetch_add(&reads, 1);
		if (n == -ENOENT)
			continue;	/* no table while nothing is preserved */
		for (int i = 0; i < n && i < 64; i++)
			if (!e[i].refcount)
				n = -EINVAL;
		if (n < 0) {
			atomic_fetch_add(&bad_reads, 1);
			pci_lu_log("outgoing table read: %d", n);
		}
		for (unsigned int i = 0; i < NDEVS; i++)
			pci_lu_status_field(devs[i], "outgoing");
	}
	return NULL;
}

static void *hotplugger(void *arg)
{
	char path[128];
	int i = 0;

	while (!atomic_load(&stop)) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", hotplug[i++ % 2]);
		if (pci_lu_write(path, "1") == 0)
			atomic_fetch_add(&removals, 1);
		usleep(20000);
		pci_lu_write("/sys/bus/pci/rescan", "1");
		usleep(20000);
	}
	return NULL;
}

static bool present(const char *bdf)
{
	return pci_lu_config_word(bdf, 0) > 0;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	pthread_t w[WORKERS], r, h;
	int s, forked = 0, left = 0, there = 0;

	g_ctx = ctx;
	for (unsigned int i = 0; i < NDEVS; i++)
		pci_lu_set_bus_master(devs[i]);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&w[i], NULL, worker, (void *)i);
	pthread_create(&r, NULL, reader, NULL);
	pthread_create(&h, NULL, hotplugger, NULL);
	/* Slow kernels (lockdep, TCG) need longer for enough removals. */
	for (int t = 0; t < RACE_MAX_SECONDS; t++) {
		if (t >= RACE_SECONDS && atomic_load(&preserved) > 20 &&
		    atomic_load(&removals) > 10)
			break;
		sleep(1);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(w[i], NULL);
	pthread_join(r, NULL);
	pthread_join(h, NULL);
	pci_lu_write("/sys/bus/pci/rescan", "1");

	CHECK(ctx, atomic_load(&unexpected) == 0,
	      "%d preserves succeeded, %d refused as documented, %d unexpected",
	      atomic_load(&preserved), atomic_load(&refused), atomic_load(&unexpected));
	CHECK(ctx, atomic_load(&preserved) > 20 && atomic_load(&removals) > 10,
	      "the race ran: %d preserves, %d removals", atomic_load(&preserved),
	      atomic_load(&removals));
	CHECK(ctx, atomic_load(&bad_reads) == 0, "%d table reads during the race, all well formed",
	      atomic_load(&reads));
	for (unsigned int i = 0; i < NDEVS; i++) {
		left += pci_lu_status_field(devs[i], "outgoing") != 0 ||
			pci_lu_status_field(devs[i], "path") != 0;
		there += present(devs[i]);
	}
	CHECK(ctx, pci_lu_table("outgoing", NULL, 0) == -ENOENT && left == 0,
	      "every session closed: no table, nothing marked preserved (%d)", left);
	CHECK(ctx, there == NDEVS, "all %zu devices back after the last rescan", NDEVS);

	/* The reboot race: one device kept, children churning the others. */
	s = luo_create_session(ctx, "keep");
	CHECK(ctx, s >= 0 && pci_lu_set_bus_master(KEEP) == 0 &&
	      pci_lu_preserve(s, KEEP, 1) == 0, "%s preserved for the update", KEEP);
	atomic_store(&stop, false);
	for (int c = 0; c < CHILDREN; c++) {
		pid_t pid = fork();

		if (pid == 0) {
			unsigned int seed = 100 + c;

			/* The kexec ends this loop; sessions held longer cross more often. */
			for (;;)
				churn(&seed, "reboot", c, 20000);
		}
		forked += pid > 0;
	}
	CHECK(ctx, forked == CHILDREN, "%d children preserve and unpreserve through the reboot",
	      forked);
	return 0;
}

/* Retrieves and finishes every session a churning child had at kexec. */
static int finish_crossed(struct pci_lu_ctx *ctx, int *files)
{
	char name[64];
	int n = 0, s, fd;

	*files = 0;
	for (int c = 0; c < CHILDREN; c++) {
		snprintf(name, sizeof(name), "reboot-%d", c);
		s = luo_retrieve_session(ctx, name);
		if (s == -ENOENT)
			continue;
		if (s < 0)
			return s;
		/* A session may have crossed before its file was preserved. */
		fd = luo_retrieve_fd(s, 1);
		*files += fd >= 0;
		if (luo_finish_session(s))
			return -EBUSY;
		close(s);
		n++;
	}
	return n;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	static struct pci_lu_entry e[64];
	int n = pci_lu_table("incoming", e, 64);
	int s, crossed, files, strangers = 0, churned = 0;

	CHECK(ctx, n > 0, "the handed-over table is valid (%d entries)", n);
	CHECK(ctx, pci_lu_incoming(KEEP) == 1 && pci_lu_bus_master(KEEP) == 1,
	      "%s incoming and mastering", KEEP);
	for (unsigned int i = 0; i < NDEVS; i++)
		if (pci_lu_incoming(devs[i]) == 1) {
			pci_lu_log("%s crossed in a churning session", devs[i]);
			churned++;
		}
	for (int i = 0; i < n; i++) {
		bool known = !strcmp(e[i].bdf, KEEP);

		for (unsigned int j = 0; j < NDEVS; j++)
			known |= !strcmp(e[i].bdf, devs[j]);
		/* Bridges above a preserved device are listed too. */
		strangers += !known && (e[i].class >> 8) != 0x0604;
	}
	CHECK(ctx, strangers == 0, "every endpoint in the table is one the test preserved");
	s = luo_retrieve_session(ctx, "keep");
	CHECK(ctx, s >= 0 && luo_retrieve_fd(s, 1) >= 0 && luo_finish_session(s) == 0,
	      "kept session retrieved and finished");
	crossed = finish_crossed(ctx, &files);
	CHECK(ctx, crossed >= 0, "%d churning sessions crossed (%d with a file), each finished",
	      crossed, files);
	/* A device is preserved once at most: one crossed file per device. */
	CHECK(ctx, files == churned, "%d churned devices arrived incoming, one per crossed file",
	      churned);
	CHECK(ctx, pci_lu_incoming_count() == 0, "nothing incoming afterwards (%d)",
	      pci_lu_incoming_count());
	return 0;
}

PCI_LU_TEST(stage1, stage2)
