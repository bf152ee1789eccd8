/*
 * PVH direct boot: QEMU's `-kernel kernel.elf -initrd prog.elf` starts the
 * kernel at its XEN_ELFNOTE_PHYS32_ENTRY with EBX pointing at struct
 * hvm_start_info. Everything in it is checked, then recast as an mb2_info so
 * that boot continues exactly as after GRUB.
 */
#include <arch/pvh.h>
#include <uapi/errno.h>

#ifdef HOST_TEST
#include <string.h>
#else
#include <lib/string.h>
#endif

static char kernel_cmdline[PVH_MAX_STRING];
static const char *module_cmdline = "";

/* Copy a NUL-terminated string from physical memory, page by page. */
static int copy_string(paddr_t pa, pvh_map_fn map, char *dst, size_t cap)
{
	for (size_t i = 0; i < cap; i++) {
		const char *c = map(pa + i, 1);
		if (!c)
			return -EINVAL;
		dst[i] = *c;
		if (!*c)
			return 0;
	}
	return -EINVAL;
}

/* "kernel words -- module words": cut the kernel part, keep the rest. */
static void split_cmdline(void)
{
	for (char *p = kernel_cmdline; *p; p++) {
		if (p[0] == '-' && p[1] == '-' && (p == kernel_cmdline || p[-1] == ' ') &&
		    (p[2] == ' ' || p[2] == '\0')) {
			module_cmdline = p[2] ? p + 3 : "";
			*p = '\0';
			while (p > kernel_cmdline && p[-1] == ' ')
				*--p = '\0';
			return;
		}
	}
}

static int parse_memmap(const struct hvm_start_info *si, pvh_map_fn map, struct mb2_info *out,
			const char **why)
{
	if (si->version < 1 || si->memmap_entries == 0) {
		*why = "no memory map (PVH start info version 0)";
		return -EINVAL;
	}
	size_t n = si->memmap_entries;
	if (n > MB2_MAX_MMAP) {
		out->mmap_dropped = (uint32_t)(n - MB2_MAX_MMAP);
		n = MB2_MAX_MMAP;
	}
	const struct hvm_memmap_entry *e = map(si->memmap_paddr, n * sizeof(*e));
	if (!e) {
		*why = "memory map out of reach";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (e[i].addr + e[i].size < e[i].addr) {
			*why = "memory map entry wraps around";
			return -EINVAL;
		}
		out->mmap[i] = (struct mb2_mmap_entry){e[i].addr, e[i].size, e[i].type};
	}
	out->mmap_count = (uint32_t)n;
	out->has_mmap = true;
	return 0;
}

static int parse_modules(const struct hvm_start_info *si, pvh_map_fn map, struct mb2_info *out,
			 const char **why)
{
	size_t n = si->nr_modules;
	if (n == 0)
		return 0;
	if (n > MB2_MAX_MODULES) {
		out->modules_dropped = (uint32_t)(n - MB2_MAX_MODULES);
		n = MB2_MAX_MODULES;
	}
	const struct hvm_modlist_entry *m = map(si->modlist_paddr, n * sizeof(*m));
	if (!m) {
		*why = "module list out of reach";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (m[i].paddr + m[i].size < m[i].paddr) {
			*why = "module wraps around";
			return -EINVAL;
		}
		out->modules[i] = (struct mb2_module){m[i].paddr, m[i].paddr + m[i].size,
						      i == 0 ? module_cmdline : ""};
	}
	out->module_count = (uint32_t)n;
	return 0;
}

int pvh_parse(paddr_t pa, pvh_map_fn map, struct mb2_info *out, const char **why)
{
	const struct hvm_start_info *si = map(pa, sizeof(*si));
	memset(out, 0, sizeof(*out));
	if (!si || si->magic != PVH_START_MAGIC) {
		*why = "bad PVH start info";
		return -EINVAL;
	}
	out->total_size = sizeof(*si);
	out->loader_name = "PVH direct boot";
	if (si->cmdline_paddr &&
	    copy_string(si->cmdline_paddr, map, kernel_cmdline, sizeof(kernel_cmdline))) {
		*why = "kernel command line unreadable or too long";
		return -EINVAL;
	}
	split_cmdline();
	out->cmdline = kernel_cmdline;
	int err = parse_memmap(si, map, out, why);
	if (!err)
		err = parse_modules(si, map, out, why);
	if (err)
		return err;
	if (si->rsdp_paddr) {
		out->rsdp = map(si->rsdp_paddr, 36); /* ACPI 2.0 RSDP length */
		out->rsdp_len = out->rsdp ? 36 : 0;
		out->rsdp_tag = MB2_TAG_ACPI_NEW;
	}
	return 0;
}
