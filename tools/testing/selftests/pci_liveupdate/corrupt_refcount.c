// SPDX-License-Identifier: GPL-2.0
/* A bridge refcount that its children contradict (checksum recomputed). */
#define FAULT PCI_LU_TEST_CORRUPT_REFCOUNT
#define REASON "entry 0 has refcount 2, its children imply 1"
#include "corrupt.h"
