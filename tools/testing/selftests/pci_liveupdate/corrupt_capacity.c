// SPDX-License-Identifier: GPL-2.0
/* A capacity beyond the preserved allocation. */
#define FAULT PCI_LU_TEST_CORRUPT_CAPACITY
#define REASON "capacity "
#define MASTERS_AT_KEXEC 0
#include "corrupt.h"
