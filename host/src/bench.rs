// SPDX-License-Identifier: GPL-2.0

//! Placeholder; the benchmark is built in a later step.

fn main() {}
