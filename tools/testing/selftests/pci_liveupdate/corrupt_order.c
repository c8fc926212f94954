// SPDX-License-Identifier: GPL-2.0
/* Entries out of order (checksum recomputed). */
#define FAULT PCI_LU_TEST_CORRUPT_ORDER
#define REASON "entry 1 is out of order"
#include "corrupt.h"
