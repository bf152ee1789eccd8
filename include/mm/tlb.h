/*
 * TLB shootdown (mm/tlb.c). A CPU that loaded an address space's page
 * tables is in its `active` set until it loads others; any CPU in the set
 * may cache its translations, so unmapping must reach them all before the
 * pages are reused, and freeing the page tables must make them all leave.
 */
#pragma once

struct vmspace;

void tlb_init(void);
/* Every other CPU in vs->active drops its translations of vs; returns when
 * all have. Call after clearing the entries, before reusing the pages. */
void tlb_shootdown(const struct vmspace *vs);
/* Every other CPU with vs loaded switches to the kernel's page tables;
 * returns when all have (before vs's page tables are freed). */
void tlb_leave(const struct vmspace *vs);
/* Answer a request another CPU made of this one, if any (interrupts off).
 * Spin loops that another CPU's shootdown may be waiting on call this. */
void tlb_service(void);
