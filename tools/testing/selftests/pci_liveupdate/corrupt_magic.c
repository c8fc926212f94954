// SPDX-License-Identifier: GPL-2.0
/* A damaged header. */
#define FAULT PCI_LU_TEST_CORRUPT_MAGIC
#define REASON "bad magic 0x0"
#include "corrupt.h"
