/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Runs a kselftest binary of the kernel tree (tools/testing/selftests/vfio,
 * liveupdate: built from the fetched source by run_vmtests.sh into
 * /upstream/<suite>/ of the initramfs) inside a stage, and turns its KTAP
 * into one sub-result the runner prints as a nested KTAP line.
 *
 * A run passes only if it exits 0, reports no failure, at least one case
 * passed, and every skipped case is one the caller expected (a skip the
 * caller did not list fails: a new skip must be explained, not absorbed).
 */
#ifndef PCI_LU_UPSTREAM_H
#define PCI_LU_UPSTREAM_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pci_lu.h"

/* A skip the caller expects: substring of the case name, and why. */
struct ksft_skip_ok {
	const char *name_has;
	const char *why;
};

struct ksft_run {
	int status;		/* exit status, or -errno if it did not run */
	int pass, fail, skip;
	int unexpected_skips;
	char first_problem[160];
};

static inline bool ksft_skip_expected(const char *line, const struct ksft_skip_ok *ok)
{
	for (; ok && ok->name_has; ok++)
		if (strstr(line, ok->name_has))
			return true;
	return false;
}

static inline void ksft_note_problem(struct ksft_run *r, const char *line)
{
	if (!r->first_problem[0])
		snprintf(r->first_problem, sizeof(r->first_problem), "%.159s", line);
}

/*
 * Runs @argv with stdout and stderr piped and counts its KTAP results; a
 * bail-out counts as a failure. Unless @verbose, only what explains a
 * failure reaches the console (failed cases with the
 * lines just before them, unexpected skips, bail-outs, the totals): under
 * emulation every serial byte costs time.
 */
static inline void ksft_run(char *const argv[], const struct ksft_skip_ok *skips,
			    bool verbose, struct ksft_run *r)
{
	char line[512], ring[8][512];
	int p[2], n = 0, status;
	FILE *in;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (pipe(p)) {
		r->status = -errno;
		return;
	}
	pid = fork();
	if (pid == 0) {
		static char *const envp[] = { "PATH=/bin:/tests", "TMPDIR=/tmp", NULL };

		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execve(argv[0], argv, envp);
		printf("Bail out! cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	in = fdopen(p[0], "r");
	while (in && fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = '\0';
		if (verbose)
			pci_lu_log("  %s", line);
		if (!strncmp(line, "not ok ", 7)) {
			for (int i = n > 8 ? n - 8 : 0; i < n && !verbose; i++)
				pci_lu_log("  %s", ring[i % 8]);
			if (!verbose)
				pci_lu_log("  %s", line);
			r->fail++;
			ksft_note_problem(r, line);
		} else if (!strncmp(line, "ok ", 3) && strstr(line, "# SKIP")) {
			r->skip++;
			if (!ksft_skip_expected(line, skips)) {
				r->unexpected_skips++;
				pci_lu_log("  unexpected skip: %s", line);
				ksft_note_problem(r, line);
			}
		} else if (!strncmp(line, "ok ", 3)) {
			r->pass++;
		} else if (!strncmp(line, "Bail out!", 9) || !strncmp(line, "# Totals:", 9)) {
			if (!verbose)
				pci_lu_log("  %s", line);
			if (line[0] == 'B') {
				r->fail++;
				ksft_note_problem(r, line);
			}
		}
		snprintf(ring[n++ % 8], sizeof(ring[0]), "%s", line);
	}
	if (in)
		fclose(in);
	else
		close(p[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		r->status = -ECHILD;
	else
		r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * Runs one upstream suite binary and records it as a check and as a
 * nested KTAP line ("PCI_LU_SUB <test> ok|not ok <label>"); true if it passed.
 */
static inline bool ksft_check(struct pci_lu_ctx *ctx, const char *label, char *const argv[],
			      const struct ksft_skip_ok *skips)
{
	struct ksft_run r;
	bool ok;

	ksft_run(argv, skips, false, &r);
	ok = r.status == 0 && r.fail == 0 && r.unexpected_skips == 0 && r.pass > 0;
	printf("PCI_LU_SUB %s %s%s kernel%d # pass:%d fail:%d skip:%d exit:%d%s%s\n",
	       ctx->name, ok ? "ok " : "not ok ", label, ctx->stage, r.pass, r.fail, r.skip,
	       r.status, r.first_problem[0] ? " first problem: " : "", r.first_problem);
	fflush(stdout);
	return CHECK(ctx, ok, "upstream %s: %d passed, %d failed, %d skipped (%d unexpected), exit %d",
		     label, r.pass, r.fail, r.skip, r.unexpected_skips, r.status);
}

#endif /* PCI_LU_UPSTREAM_H */
