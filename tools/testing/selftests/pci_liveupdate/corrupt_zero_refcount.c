// SPDX-License-Identifier: GPL-2.0
/* A listed entry without references (checksum recomputed). */
#define FAULT PCI_LU_TEST_CORRUPT_ZERO_REFCOUNT
#define REASON "entry 5 has a zero refcount"
#include "corrupt.h"
