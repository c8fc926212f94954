// SPDX-License-Identifier: GPL-2.0
/* A damaged array address: the header checksum catches it before use. */
#define FAULT PCI_LU_TEST_CORRUPT_HEADER
#define REASON "header checksum"
#include "corrupt.h"
