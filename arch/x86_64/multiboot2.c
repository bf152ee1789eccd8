/* Multiboot2 boot-information parser: treats every tag as untrusted input. */
#ifdef HOST_TEST
#include <string.h>
#else
#include <lib/string.h>
#endif

#include <arch/multiboot2.h>
#include <uapi/errno.h>

/* Layouts from the Multiboot2 spec §3.6; all fields little-endian. */
struct mbi_fixed {
	uint32_t total_size;
	uint32_t reserved;
};

struct mb2_tag {
	uint32_t type;
	uint32_t size;
};

struct mb2_tag_module {
	struct mb2_tag tag;
	uint32_t mod_start;
	uint32_t mod_end;
	char cmdline[];
};

struct mb2_tag_meminfo {
	struct mb2_tag tag;
	uint32_t mem_lower;
	uint32_t mem_upper;
};

struct mb2_tag_mmap {
	struct mb2_tag tag;
	uint32_t entry_size;
	uint32_t entry_version;
};

struct mb2_raw_mmap_entry {
	uint64_t base_addr;
	uint64_t length;
	uint32_t type;
	uint32_t reserved;
};

STATIC_ASSERT(sizeof(struct mb2_tag_module) == 16, "module tag layout");
STATIC_ASSERT(sizeof(struct mb2_tag_meminfo) == 16, "meminfo tag layout");
STATIC_ASSERT(sizeof(struct mb2_tag_mmap) == 16, "mmap tag layout");
STATIC_ASSERT(sizeof(struct mb2_raw_mmap_entry) == 24, "mmap entry layout");

#define MB2_RSDP_V1_LEN 20 /* ACPI 6.5 §5.2.5.3: RSDP up to RsdtAddress */
#define MB2_RSDP_V2_LEN 36 /* ... and the whole structure */

static int fail(const char **why, int err, const char *reason)
{
	if (why)
		*why = reason;
	return err;
}

/*
 * Check that the tag's payload after hdr bytes is a string terminated inside
 * the tag, and return it.
 */
static int tag_string(const struct mb2_tag *t, size_t hdr, const char **str, const char **why)
{
	const char *s = (const char *)t + hdr;
	size_t n;

	if (t->size < hdr)
		return fail(why, -EINVAL, "string tag too short");
	n = t->size - hdr;
	if (strnlen(s, n) == n)
		return fail(why, -EINVAL, "string not NUL-terminated in its tag");
	*str = s;
	return 0;
}

static int parse_first_string(const struct mb2_tag *t, const char **dst, const char **why)
{
	const char *s;
	int err;

	err = tag_string(t, sizeof(*t), &s, why);
	if (err)
		return err;
	if (!*dst)
		*dst = s;
	return 0;
}

static int parse_module(const struct mb2_tag *t, struct mb2_info *out, const char **why)
{
	const struct mb2_tag_module *m = (const void *)t;
	struct mb2_module *dst;
	const char *cmdline;
	int err;

	if (t->size < sizeof(*m))
		return fail(why, -EINVAL, "module tag too short");
	err = tag_string(t, sizeof(*m), &cmdline, why);
	if (err)
		return err;
	if (m->mod_start > m->mod_end)
		return fail(why, -EINVAL, "module ends before it starts");
	if (out->module_count == MB2_MAX_MODULES) {
		out->modules_dropped++;
		return 0;
	}
	dst = &out->modules[out->module_count++];
	dst->start = m->mod_start;
	dst->end = m->mod_end;
	dst->cmdline = cmdline;
	return 0;
}

static int parse_meminfo(const struct mb2_tag *t, struct mb2_info *out, const char **why)
{
	const struct mb2_tag_meminfo *mi = (const void *)t;

	if (t->size < sizeof(*mi))
		return fail(why, -EINVAL, "meminfo tag too short");
	if (out->has_meminfo)
		return 0;
	out->has_meminfo = true;
	out->mem_lower_kib = mi->mem_lower;
	out->mem_upper_kib = mi->mem_upper;
	return 0;
}

static int check_mmap_header(const struct mb2_tag_mmap *mm, const char **why)
{
	if (mm->tag.size < sizeof(*mm))
		return fail(why, -EINVAL, "mmap tag too short");
	if (mm->entry_size < sizeof(struct mb2_raw_mmap_entry))
		return fail(why, -EINVAL, "mmap entry_size < 24");
	if (!IS_ALIGNED(mm->entry_size, 8))
		return fail(why, -EINVAL, "mmap entry_size not a multiple of 8");
	if ((mm->tag.size - sizeof(*mm)) % mm->entry_size)
		return fail(why, -EINVAL, "mmap size not a whole number of entries");
	return 0;
}

static void add_mmap_entry(struct mb2_info *out, const struct mb2_raw_mmap_entry *e)
{
	struct mb2_mmap_entry *dst;

	if (out->mmap_count == MB2_MAX_MMAP) {
		out->mmap_dropped++;
		return;
	}
	dst = &out->mmap[out->mmap_count++];
	dst->base = e->base_addr;
	dst->length = e->length;
	dst->type = e->type;
}

static int parse_mmap(const struct mb2_tag *t, struct mb2_info *out, const char **why)
{
	const struct mb2_tag_mmap *mm = (const void *)t;
	const struct mb2_raw_mmap_entry *e;
	size_t off;
	int err;

	err = check_mmap_header(mm, why);
	if (err)
		return err;
	for (off = sizeof(*mm); off < t->size; off += mm->entry_size) {
		e = (const void *)((const char *)t + off);
		if (e->base_addr + e->length < e->base_addr)
			return fail(why, -EINVAL, "mmap entry wraps around");
	}
	if (out->has_mmap)
		return 0;
	out->has_mmap = true;
	for (off = sizeof(*mm); off < t->size; off += mm->entry_size)
		add_mmap_entry(out, (const void *)((const char *)t + off));
	return 0;
}

/* Tag 15 (ACPI 2.0+ RSDP) is preferred over tag 14 whatever their order. */
static int parse_acpi(const struct mb2_tag *t, struct mb2_info *out, const char **why)
{
	size_t len = t->size - sizeof(*t);
	size_t min = t->type == MB2_TAG_ACPI_NEW ? MB2_RSDP_V2_LEN : MB2_RSDP_V1_LEN;

	if (len < min)
		return fail(why, -EINVAL, "ACPI RSDP tag too short");
	if (out->rsdp_tag == MB2_TAG_ACPI_NEW ||
	    (out->rsdp_tag == MB2_TAG_ACPI_OLD && t->type == MB2_TAG_ACPI_OLD))
		return 0;
	out->rsdp = t + 1;
	out->rsdp_len = len;
	out->rsdp_tag = t->type;
	return 0;
}

static int parse_tag(const struct mb2_tag *t, struct mb2_info *out, const char **why)
{
	switch (t->type) {
	case MB2_TAG_CMDLINE:
		return parse_first_string(t, &out->cmdline, why);
	case MB2_TAG_LOADER_NAME:
		return parse_first_string(t, &out->loader_name, why);
	case MB2_TAG_MODULE:
		return parse_module(t, out, why);
	case MB2_TAG_MEMINFO:
		return parse_meminfo(t, out, why);
	case MB2_TAG_MMAP:
		return parse_mmap(t, out, why);
	case MB2_TAG_ACPI_OLD:
	case MB2_TAG_ACPI_NEW:
		return parse_acpi(t, out, why);
	default:
		return 0; /* ELF sections, framebuffer, ...: not needed */
	}
}

/* Walk the tags at 8-byte steps until the end tag (§3.6.1). */
static int walk_tags(const uint8_t *base, uint32_t total, struct mb2_info *out, const char **why)
{
	const struct mb2_tag *t;
	size_t off = sizeof(struct mbi_fixed);
	int err;

	for (;;) {
		if (off + sizeof(*t) > total)
			return fail(why, -EINVAL, "no end tag");
		t = (const void *)(base + off);
		if (t->size < sizeof(*t))
			return fail(why, -EINVAL, "tag size < 8");
		if (t->size > total - off)
			return fail(why, -ERANGE, "tag runs past total_size");
		if (t->type == MB2_TAG_END)
			break;
		err = parse_tag(t, out, why);
		if (err)
			return err;
		off = ALIGN_UP(off + t->size, MB2_TAG_ALIGN);
	}
	if (t->size != sizeof(*t))
		return fail(why, -EINVAL, "end tag size is not 8");
	return 0;
}

int mb2_parse(const void *mbi, size_t avail, struct mb2_info *out, const char **why)
{
	const struct mbi_fixed *fixed = mbi;
	int err;

	memset(out, 0, sizeof(*out));
	if (!mbi || !IS_ALIGNED((uintptr_t)mbi, MB2_TAG_ALIGN))
		return fail(why, -EINVAL, "MBI not 8-byte aligned");
	if (avail < sizeof(*fixed))
		return fail(why, -ERANGE, "MBI shorter than its header");
	if (fixed->total_size < sizeof(*fixed))
		return fail(why, -EINVAL, "total_size < 8");
	if (fixed->total_size > avail)
		return fail(why, -ERANGE, "total_size beyond readable bytes");
	out->total_size = fixed->total_size;
	err = walk_tags(mbi, fixed->total_size, out, why);
	if (err)
		return err;
	if (why)
		*why = NULL;
	return 0;
}
