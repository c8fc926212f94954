// SPDX-License-Identifier: GPL-2.0

#include <linux/io.h>
#include <linux/mm.h>

__rust_helper phys_addr_t rust_helper_virt_to_phys(const void *addr)
{
	return virt_to_phys((void *)addr);
}

__rust_helper void *rust_helper_folio_address(const struct folio *folio)
{
	return folio_address(folio);
}

__rust_helper size_t rust_helper_folio_size(const struct folio *folio)
{
	return folio_size(folio);
}

__rust_helper void rust_helper_folio_put(struct folio *folio)
{
	folio_put(folio);
}
