// SPDX-License-Identifier: GPL-2.0
/* A repeated entry (checksum recomputed). */
#define FAULT PCI_LU_TEST_CORRUPT_DUPLICATE
#define REASON "entry 1 is a duplicate"
#include "corrupt.h"
