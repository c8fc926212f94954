// SPDX-License-Identifier: GPL-2.0
/* An entry changed after the checksum was written. */
#define FAULT PCI_LU_TEST_CORRUPT_CHECKSUM
#define REASON "checksum"
#include "corrupt.h"
