/* kmain: bring the machine up in dependency order, then run the manifest. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <arch/percpu.h>
#include <arch/pvh.h>
#include <arch/trap.h>
#include <drivers/iommu.h>
#include <drivers/pci.h>
#include <drivers/uart.h>
#include <drivers/virtio_net.h>
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/cpulocal.h>
#include <kernel/power.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <kernel/sched.h>
#include <kernel/selftest.h>
#include <kernel/smp.h>
#include <kernel/stackprot.h>
#include <kernel/syscall.h>
#include <kernel/testhook.h>
#include <kernel/time.h>
#include <kernel/uaccess.h>
#include <lib/format.h>
#include <mm/phys.h>
#include <mm/tlb.h>
#include <mm/vm.h>

/* Limit for reading the boot information through the boot direct map. */
#define BOOT_MAPPED_END 0x100000000UL

struct mb2_info boot_info;
struct acpi_info boot_acpi;

extern char boot_stack_top[];
static uint8_t bsp_ist_stacks[3 * IST_STACK_SIZE] __attribute__((aligned(16)));

/* ACPI tables are read through the boot page tables' map of the low 4 GiB. */
static const void *acpi_map_low(paddr_t pa, size_t len, void *ctx)
{
	(void)ctx;
	if (pa + len < pa || pa + len > BOOT_MAPPED_END)
		return NULL;
	return phys_to_virt(pa);
}

static const void *pvh_map_low(paddr_t pa, size_t len)
{
	return acpi_map_low(pa, len, NULL);
}

static void parse_boot_info(uint32_t magic, paddr_t mbi_pa)
{
	const char *why = NULL;

	if (magic == PVH_START_MAGIC) {
		if (pvh_parse(mbi_pa, pvh_map_low, &boot_info, &why))
			panic("boot: bad PVH start info: %s", why);
		cmdline_init(boot_info.cmdline);
		printk("boot loader: %s\ncommand line: %s\n", boot_info.loader_name, cmdline_raw());
		return;
	}
	if (magic != MB2_BOOT_MAGIC)
		panic("boot: bad Multiboot2 magic %#x", magic);
	if (mbi_pa & 7 || mbi_pa + 8 > BOOT_MAPPED_END)
		panic("boot: boot information at %#lx is unusable", mbi_pa);
	const uint32_t *mbi = phys_to_virt(mbi_pa);
	size_t avail = MIN((uint64_t)mbi[0], BOOT_MAPPED_END - mbi_pa);
	int err = mb2_parse(mbi, avail, &boot_info, &why);
	if (err)
		panic("boot: bad Multiboot2 information: %s (%d)", why, err);
	cmdline_init(boot_info.cmdline);
	printk("boot loader: %s\ncommand line: %s\n",
	       boot_info.loader_name ? boot_info.loader_name : "?", cmdline_raw());
}

static void print_acpi(void)
{
	const struct acpi_info *a = &boot_acpi;

	printk("acpi: revision %u, OEM %s, %s\n", a->revision, a->oem_id,
	       a->xsdt ? "XSDT" : "RSDT");
	printk("acpi: %u CPU(s) in the MADT, local APIC at %#lx\n", a->cpu_count, a->lapic_addr);
	for (uint32_t i = 0; i < a->cpu_count; i++)
		printk("  cpu %u: APIC id %u, uid %u%s\n", i, a->cpus[i].apic_id, a->cpus[i].uid,
		       a->cpus[i].x2apic ? " (x2APIC entry)" : "");
	for (uint32_t i = 0; i < a->ioapic_count; i++)
		printk("  ioapic %u at %#lx, GSI base %u\n", a->ioapics[i].id, a->ioapics[i].addr,
		       a->ioapics[i].gsi_base);
	if (!(a->found & ACPI_FOUND_MCFG) || a->mcfg_count == 0)
		printk("acpi: no MCFG: PCIe ECAM unavailable\n");
	for (uint32_t i = 0; i < a->mcfg_count; i++)
		printk("acpi: PCIe ECAM base %#lx segment %u buses %u-%u\n", a->mcfg[i].base,
		       a->mcfg[i].segment, a->mcfg[i].bus_start, a->mcfg[i].bus_end);
	if (a->found & ACPI_FOUND_DMAR)
		printk("acpi: DMAR: %u remapping unit(s), %u reserved range(s), %u-bit DMA\n",
		       a->dmar.unit_count, a->dmar.rmrr_count, a->dmar.host_width);
	else if (a->dmar_why)
		printk("acpi: DMAR ignored: %s\n", a->dmar_why);
}

static void acpi_init(void)
{
	const char *why = NULL;

	if (!boot_info.rsdp)
		panic("acpi: the boot loader passed no RSDP");
	int err =
	    acpi_parse(0, boot_info.rsdp, boot_info.rsdp_len, acpi_map_low, NULL, &boot_acpi, &why);
	if (err)
		panic("acpi: %s table: %s (%d)", boot_acpi.fail_table, why, err);
	print_acpi();
	if (boot_acpi.found & ACPI_FOUND_S5)
		power_set_acpi_s5(boot_acpi.pm1a_cnt, boot_acpi.pm1b_cnt, boot_acpi.slp_typa,
				  boot_acpi.slp_typb);
}

/* Every module is a program; its command line is its manifest and argv. */
static void spawn_modules(void)
{
	unsigned started = 0;
	sched_note_baseline();
	for (uint32_t i = 0; i < boot_info.module_count; i++) {
		const struct mb2_module *m = &boot_info.modules[i];
		char what[64];
		fmt_snprintf(what, sizeof(what), "module %u (%.48s)", i + 1,
			     m->cmdline && *m->cmdline ? m->cmdline : "?");
		size_t size = m->end - m->start;
		if (!vm_direct_mapped(m->start, size)) {
			printk("refused %s: not in RAM\n", what);
			continue;
		}
		if (proc_spawn(phys_to_virt(m->start), size, m->cmdline ? m->cmdline : "", what) ==
		    0)
			started++;
	}
	if (!started) {
		printk("manticore: no program to run\n");
		power_exit(boot_info.module_count ? EXIT_FAIL : EXIT_PASS);
	}
}

/* Enough of the boot CPU for exceptions to be reported from the start. */
static void cpu_early_init(void)
{
	struct cpu *c = &cpus[0];

	c->id = 0;
	c->kstack_top = (uint64_t)boot_stack_top;
	for (int i = 0; i < 3; i++) /* until percpu_init gives it guarded ones */
		c->ist_top[i] = (uint64_t)(bsp_ist_stacks + (i + 1) * IST_STACK_SIZE);
	percpu_early_init(c);
	idt_init();
	idt_load();
}

void kmain(uint32_t magic, paddr_t mbi_pa)
{
	stackprot_init(); /* before anything that checks the guard returns */
	uart_init(UART_COM1);
	cpu_early_init();
	printk("\nManticore parakernel booting\n");
	parse_boot_info(magic, mbi_pa);
	if (cmdline_has("test") || cmdline_has("debugexit"))
		power_enable_debug_exit();
	acpi_init();
	boot_mm_init(mbi_pa);
	apic_init(boot_acpi.lapic_addr);
	cpu_local_init(&cpus[0]);
	cpu_count = 1;
	printk("apic: %s mode, BSP APIC id %u\n", apic_x2apic() ? "x2APIC" : "xAPIC",
	       cpus[0].apic_id);
	time_init();
	printk("time: TSC %lu.%03lu MHz, APIC timer %lu kHz (divide 16)\n", time_tsc_hz() / 1000000,
	       time_tsc_hz() / 1000 % 1000, apic_timer_hz() / 1000);

	char test[32];
	if (cmdline_get("test", test, sizeof(test)))
		power_exit(selftest_run(test) ? EXIT_PASS : EXIT_FAIL);

	proc_fpu_init();
	printk("cpu: SMEP %s, SMAP %s, UMIP %s; stack protector guard from %s, guard pages "
	       "under every kernel stack\n",
	       cpu_smep ? "on" : "absent", cpu_smap ? "on" : "absent", cpu_umip ? "on" : "absent",
	       stackprot_source());
	sched_init();
	tlb_init();
	testhook_init();
	if (!cmdline_has("nosmp"))
		smp_init(&boot_acpi);
	pci_init(&boot_acpi);
	iommu_init(&boot_acpi);
	virtio_net_init();
	spawn_modules();
	sched_start();
}
