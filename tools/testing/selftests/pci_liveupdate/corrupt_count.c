// SPDX-License-Identifier: GPL-2.0
/* More entries than the array has room for. */
#define FAULT PCI_LU_TEST_CORRUPT_COUNT
#define REASON "count "
#define MASTERS_AT_KEXEC 0
#include "corrupt.h"
