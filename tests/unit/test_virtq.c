/* Unit tests of the split-virtqueue bookkeeping against a simulated device. */
/* unit-sources: lib/virtq.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lib/virtq.h>
#include <uapi/errno.h>

/*
 * The simulated device: it reads the driver's rings the way virtio 1.2
 * §2.7 says a device does, keeps its own position in the avail ring, and
 * decides about notifications with its own copy of the rules.
 */
struct sim {
	struct virtq vq;
	struct virtq_slot slots[VIRTQ_SIZE_MAX];
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	unsigned int size;
	bool event_idx;
	uint16_t dev_avail; /* next avail entry the device reads */
	uint16_t dev_used;  /* next used entry the device writes */
	unsigned int irqs;  /* notifications the device would have sent */
};

static void *zalloc_aligned(size_t align, size_t len)
{
	void *p = aligned_alloc(align, (len + align - 1) / align * align);

	assert_non_null(p);
	memset(p, 0, len);
	return p;
}

static struct sim *sim_new(unsigned int size, bool event_idx)
{
	struct sim *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->size = size;
	s->event_idx = event_idx;
	s->desc = zalloc_aligned(VIRTQ_DESC_ALIGN, virtq_desc_bytes(size));
	s->avail = zalloc_aligned(VIRTQ_AVAIL_ALIGN, virtq_avail_bytes(size));
	s->used = zalloc_aligned(VIRTQ_USED_ALIGN, virtq_used_bytes(size));
	/* Garbage the driver must overwrite. */
	memset(s->desc, 0xa5, virtq_desc_bytes(size));
	memset(s->avail, 0x5a, virtq_avail_bytes(size));
	assert_int_equal(
	    virtq_init(&s->vq, s->desc, s->avail, s->used, size, s->slots, event_idx), 0);
	return s;
}

static void sim_free(struct sim *s)
{
	free(s->desc);
	free(s->avail);
	free(s->used);
	free(s);
}

static uint16_t *sim_used_event(struct sim *s)
{
	return &s->avail->ring[s->size];
}

static uint16_t *sim_avail_event(struct sim *s)
{
	return (uint16_t *)&s->used->ring[s->size];
}

/* Buffers the driver has published that the device has not taken yet. */
static unsigned int sim_pending(struct sim *s)
{
	return (uint16_t)(s->avail->idx - s->dev_avail);
}

/* Take the next published buffer; returns its descriptor id. */
static uint16_t sim_take(struct sim *s)
{
	uint16_t id;

	assert_true(sim_pending(s) > 0);
	id = s->avail->ring[s->dev_avail % s->size];
	s->dev_avail++;
	assert_true(id < s->size);
	assert_int_equal(s->desc[id].flags & VIRTQ_DESC_F_NEXT, 0);
	return id;
}

/* Reference rule, written apart from virtq_need_event: event in [old, new) mod 2^16. */
static bool ref_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	unsigned int span = (unsigned int)((new_idx + 65536 - old_idx) % 65536);
	unsigned int dist = (unsigned int)((event + 65536 - old_idx) % 65536);

	return dist < span;
}

/* Return one buffer and notify the driver if it asked (§2.7.10). */
static void sim_return(struct sim *s, uint32_t id, uint32_t len)
{
	uint16_t old_idx = s->dev_used;
	bool notify;

	s->used->ring[s->dev_used % s->size] = (struct virtq_used_elem){id, len};
	s->dev_used++;
	__atomic_store_n(&s->used->idx, s->dev_used, __ATOMIC_RELEASE);
	if (s->event_idx)
		notify = ref_need_event(*sim_used_event(s), s->dev_used, old_idx);
	else
		notify = !(s->avail->flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (notify)
		s->irqs++;
}

static void *cookie_of(unsigned int n)
{
	return (void *)(uintptr_t)(0x1000 + n);
}

static void test_init_rejects(void **state)
{
	struct sim *s = sim_new(8, false);
	struct virtq_slot slots[8];

	(void)state;
	assert_int_equal(virtq_init(&s->vq, s->desc, s->avail, s->used, 0, slots, false),
			 -EINVAL);
	assert_int_equal(virtq_init(&s->vq, s->desc, s->avail, s->used, 6, slots, false),
			 -EINVAL);
	assert_int_equal(virtq_init(&s->vq, s->desc, s->avail, s->used, 65536, slots, false),
			 -EINVAL);
	assert_int_equal(
	    virtq_init(&s->vq, (char *)s->desc + 8, s->avail, s->used, 8, slots, false), -EINVAL);
	assert_int_equal(
	    virtq_init(&s->vq, s->desc, (char *)s->avail + 1, s->used, 8, slots, false), -EINVAL);
	assert_int_equal(
	    virtq_init(&s->vq, s->desc, s->avail, (char *)s->used + 2, 8, slots, false), -EINVAL);
	assert_int_equal(virtq_init(&s->vq, NULL, s->avail, s->used, 8, slots, false), -EINVAL);
	assert_int_equal(virtq_init(&s->vq, s->desc, s->avail, s->used, 8, NULL, false), -EINVAL);
	assert_int_equal(virtq_init(&s->vq, s->desc, s->avail, s->used, 1, slots, false), 0);
	assert_int_equal(virtq_free_count(&s->vq), 1);
	sim_free(s);
}

static void test_init_state(void **state)
{
	struct sim *s = sim_new(16, true);

	(void)state;
	assert_int_equal(virtq_size(&s->vq), 16);
	assert_int_equal(virtq_free_count(&s->vq), 16);
	assert_int_equal(virtq_inflight(&s->vq), 0);
	assert_int_equal(s->avail->idx, 0);
	assert_int_equal(s->avail->flags, 0);
	assert_int_equal(*sim_used_event(s), 0);
	assert_false(virtq_used_pending(&s->vq));
	sim_free(s);
}

static void test_add_rejects(void **state)
{
	struct sim *s = sim_new(4, false);

	(void)state;
	assert_int_equal(virtq_add(&s->vq, 0x1000, 100, true, NULL), -EINVAL);
	assert_int_equal(virtq_add(&s->vq, 0x1000, 0, true, cookie_of(0)), -EINVAL);
	assert_int_equal(virtq_free_count(&s->vq), 4);
	sim_free(s);
}

/* Every descriptor can carry a buffer; one more fails and changes nothing. */
static void test_full_ring(void **state)
{
	const unsigned int size = 32;
	struct sim *s = sim_new(size, false);
	bool seen[32] = {false};
	unsigned int i;
	void *c;
	uint32_t len;

	(void)state;
	for (i = 0; i < size; i++)
		assert_int_equal(virtq_add(&s->vq, 0x10000 + i * 2048, 2048, i & 1, cookie_of(i)),
				 0);
	assert_int_equal(virtq_free_count(&s->vq), 0);
	assert_int_equal(virtq_inflight(&s->vq), size);
	assert_int_equal(virtq_add(&s->vq, 0x1, 1, true, cookie_of(99)), -ENOSPC);
	assert_int_equal(virtq_free_count(&s->vq), 0);

	/* Nothing visible before the publish, all of it after. */
	assert_int_equal(sim_pending(s), 0);
	virtq_publish(&s->vq);
	assert_int_equal(sim_pending(s), size);

	for (i = 0; i < size; i++) {
		uint16_t id = sim_take(s);

		assert_false(seen[id]);
		seen[id] = true;
		assert_int_equal(s->desc[id].len, 2048);
		assert_int_equal(s->desc[id].flags, (i & 1) ? VIRTQ_DESC_F_WRITE : 0);
		assert_int_equal(s->desc[id].addr, 0x10000 + i * 2048);
		sim_return(s, id, i);
	}
	for (i = 0; i < size; i++) {
		assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
		assert_ptr_equal(c, cookie_of(i));
		assert_int_equal(len, i);
	}
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 0);
	assert_int_equal(virtq_free_count(&s->vq), size);

	/* And the whole ring again. */
	for (i = 0; i < size; i++)
		assert_int_equal(virtq_add(&s->vq, 0x20000 + i, 64, true, cookie_of(i)), 0);
	assert_int_equal(virtq_add(&s->vq, 0x1, 1, true, cookie_of(99)), -ENOSPC);
	sim_free(s);
}

/* The device may return buffers in any order (§2.7.8); so may the driver reuse them. */
static void test_out_of_order(void **state)
{
	const unsigned int size = 8;
	struct sim *s = sim_new(size, false);
	const unsigned int order[8] = {5, 2, 7, 0, 1, 6, 3, 4};
	uint16_t ids[8];
	unsigned int i, round;
	void *c;
	uint32_t len;

	(void)state;
	for (round = 0; round < 3; round++) {
		for (i = 0; i < size; i++)
			assert_int_equal(virtq_add(&s->vq, 0x1000 * (i + 1), 1500, true,
						   cookie_of(round * 100 + i)),
					 0);
		virtq_publish(&s->vq);
		for (i = 0; i < size; i++)
			ids[i] = sim_take(s);
		/* Return in a scrambled order, each with its own length. */
		for (i = 0; i < size; i++)
			sim_return(s, ids[order[i]], 60 + order[i]);
		for (i = 0; i < size; i++) {
			assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
			assert_ptr_equal(c, cookie_of(round * 100 + order[i]));
			assert_int_equal(len, 60 + order[i]);
		}
		assert_int_equal(virtq_free_count(&s->vq), size);
	}

	/* Interleaved: return half, reuse the freed descriptors, return the rest. */
	for (i = 0; i < size; i++)
		assert_int_equal(virtq_add(&s->vq, 0x1000, 100, true, cookie_of(i)), 0);
	virtq_publish(&s->vq);
	for (i = 0; i < size; i++)
		ids[i] = sim_take(s);
	sim_return(s, ids[6], 1);
	sim_return(s, ids[1], 2);
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
	assert_ptr_equal(c, cookie_of(6));
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
	assert_ptr_equal(c, cookie_of(1));
	assert_int_equal(virtq_add(&s->vq, 0x2000, 100, true, cookie_of(50)), 0);
	assert_int_equal(virtq_add(&s->vq, 0x3000, 100, true, cookie_of(51)), 0);
	assert_int_equal(virtq_add(&s->vq, 0x4000, 100, true, cookie_of(52)), -ENOSPC);
	virtq_publish(&s->vq);
	{
		uint16_t a = sim_take(s), b = sim_take(s);

		/* The two freed descriptors, and only those, were reused. */
		assert_true((a == ids[6] && b == ids[1]) || (a == ids[1] && b == ids[6]));
		sim_return(s, b, 3);
		sim_return(s, a, 4);
	}
	for (i = 0; i < size; i++) {
		if (i != 6 && i != 1)
			sim_return(s, ids[i], 10 + i);
	}
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
	assert_ptr_equal(c, cookie_of(51));
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
	assert_ptr_equal(c, cookie_of(50));
	for (i = 0; i < size; i++) {
		if (i == 6 || i == 1)
			continue;
		assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
		assert_ptr_equal(c, cookie_of(i));
		assert_int_equal(len, 10 + i);
	}
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 0);
	assert_int_equal(virtq_free_count(&s->vq), size);
	assert_int_equal(s->vq.dev_errors, 0);
	sim_free(s);
}

/*
 * Run entries through a queue until its 16-bit indices have wrapped, in
 * batches that do not divide the ring size, checking every entry.
 */
static void run_through_wrap(unsigned int size, bool event_idx)
{
	struct sim *s = sim_new(size, event_idx);
	unsigned int batch = size > 3 ? size - 3 : 1;
	unsigned long total = 0, target = 65536UL + 3 * size + 17;
	bool wrapped_avail = false, wrapped_used = false;
	uint16_t prev_avail = 0, prev_used = 0;

	while (total < target) {
		unsigned int i, n = batch;
		uint16_t ids[256];
		void *c;
		uint32_t len;

		for (i = 0; i < n; i++)
			assert_int_equal(virtq_add(&s->vq, (total + i) * 64, 64, !event_idx,
						   cookie_of((unsigned int)((total + i) & 0xffff))),
					 0);
		virtq_publish(&s->vq);
		for (i = 0; i < n; i++) {
			ids[i] = sim_take(s);
			assert_int_equal(s->desc[ids[i]].addr, (total + i) * 64);
		}
		/* Odd batches come back reversed. */
		for (i = 0; i < n; i++) {
			unsigned int k = (total / batch) & 1 ? n - 1 - i : i;

			sim_return(s, ids[k], event_idx ? 0 : (uint32_t)((total + k) % 64));
		}
		for (i = 0; i < n; i++) {
			unsigned int k = (total / batch) & 1 ? n - 1 - i : i;

			assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
			assert_ptr_equal(c, cookie_of((unsigned int)((total + k) & 0xffff)));
			assert_int_equal(len, event_idx ? 0 : (total + k) % 64);
		}
		assert_int_equal(virtq_get_used(&s->vq, &c, &len), 0);
		assert_int_equal(virtq_free_count(&s->vq), size);
		if (s->avail->idx < prev_avail)
			wrapped_avail = true;
		if (s->used->idx < prev_used)
			wrapped_used = true;
		prev_avail = s->avail->idx;
		prev_used = s->used->idx;
		total += n;
	}
	assert_true(wrapped_avail);
	assert_true(wrapped_used);
	assert_int_equal(s->avail->idx, (uint16_t)total);
	assert_int_equal(s->used->idx, (uint16_t)total);
	assert_int_equal(s->vq.dev_errors, 0);
	sim_free(s);
}

static void test_wrap_around(void **state)
{
	(void)state;
	run_through_wrap(4, false);
	run_through_wrap(16, true);
	run_through_wrap(256, false);
	run_through_wrap(1, true);
}

/* Advance a fresh queue to just below the wrap: 65530 buffers through it. */
static void advance_to(struct sim *s, uint16_t target)
{
	void *c;
	uint32_t len;

	while (s->avail->idx != target) {
		assert_int_equal(virtq_add(&s->vq, 0x1000, 64, true, cookie_of(1)), 0);
		virtq_publish(&s->vq);
		(void)virtq_kick_needed(&s->vq);
		sim_return(s, sim_take(s), 64);
		assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
	}
}

/* Indices that start near 65535 and cross it inside one batch. */
static void test_wrap_inside_batch(void **state)
{
	struct sim *s = sim_new(8, true);
	unsigned int i;
	void *c;
	uint32_t len;

	(void)state;
	advance_to(s, 65533);
	assert_int_equal(s->used->idx, 65533);
	*sim_avail_event(s) = s->dev_avail; /* device wants to hear of the next one */
	for (i = 0; i < 6; i++)
		assert_int_equal(virtq_add(&s->vq, 0x8000 + i, 100, true, cookie_of(i)), 0);
	virtq_publish(&s->vq);
	assert_int_equal(s->avail->idx, 3);
	assert_true(virtq_kick_needed(&s->vq));
	assert_int_equal(sim_pending(s), 6);
	/* Used up to the avail index across the wrap, counted as the ring counts. */
	assert_true(virtq_used_reached(&s->vq, 65533));
	assert_false(virtq_used_reached(&s->vq, 65534));
	assert_false(virtq_used_reached(&s->vq, 3));
	for (i = 0; i < 3; i++)
		sim_return(s, sim_take(s), 10 + i);
	assert_int_equal(s->used->idx, 0);
	assert_true(virtq_used_reached(&s->vq, 65535));
	assert_false(virtq_used_reached(&s->vq, 3));
	for (i = 3; i < 6; i++)
		sim_return(s, sim_take(s), 10 + i);
	assert_true(virtq_used_reached(&s->vq, 3));
	assert_int_equal(s->used->idx, 3);
	for (i = 0; i < 6; i++) {
		assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
		assert_ptr_equal(c, cookie_of(i));
		assert_int_equal(len, 10 + i);
	}
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 0);
	sim_free(s);
}

static void check_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	bool got = virtq_need_event(event, new_idx, old_idx);
	bool want = ref_need_event(event, new_idx, old_idx);

	if (got != want)
		fail_msg("need_event(event %u, new %u, old %u) = %d, want %d", event, new_idx,
			 old_idx, got, want);
}

static void test_need_event_formula(void **state)
{
	static const uint16_t olds[] = {0, 1, 2, 100, 32767, 32768, 65533, 65534, 65535};
	static const unsigned int spans[] = {0, 1, 2, 3, 31, 32, 256, 32767, 32768, 65535};
	uint32_t x = 12345;
	unsigned int i, j, k;

	(void)state;
	/* Every event index for a set of old/new pairs around the edges. */
	for (i = 0; i < sizeof(olds) / sizeof(olds[0]); i++) {
		for (j = 0; j < sizeof(spans) / sizeof(spans[0]); j++) {
			uint16_t new_idx = (uint16_t)(olds[i] + spans[j]);

			for (k = 0; k < 65536; k++)
				check_need_event((uint16_t)k, new_idx, olds[i]);
		}
	}
	/* And random triples. */
	for (i = 0; i < 1000000; i++) {
		uint16_t e, n, o;

		x = x * 1103515245u + 12345u;
		e = (uint16_t)(x >> 16);
		x = x * 1103515245u + 12345u;
		o = (uint16_t)(x >> 16);
		x = x * 1103515245u + 12345u;
		n = (uint16_t)(o + ((x >> 16) & 0x3f));
		check_need_event(e, n, o);
		check_need_event(o, n, o);
		check_need_event((uint16_t)(n - 1), n, o);
		check_need_event(n, n, o);
	}
	/* A few by hand: the event entry itself was just written. */
	assert_true(virtq_need_event(5, 6, 5));
	assert_false(virtq_need_event(6, 6, 5));
	assert_false(virtq_need_event(4, 6, 5));
	assert_true(virtq_need_event(65535, 0, 65535));
	assert_true(virtq_need_event(65535, 2, 65530));
	assert_false(virtq_need_event(2, 2, 65530));
	assert_false(virtq_need_event(7, 7, 7));
}

static void add_publish(struct sim *s, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		assert_int_equal(virtq_add(&s->vq, 0x1000, 64, false, cookie_of(i)), 0);
	virtq_publish(&s->vq);
}

static void drain(struct sim *s)
{
	void *c;
	uint32_t len;

	while (sim_pending(s))
		sim_return(s, sim_take(s), 0);
	while (virtq_get_used(&s->vq, &c, &len) == 1)
		;
}

static void test_kick_event_idx(void **state)
{
	struct sim *s = sim_new(16, true);

	(void)state;
	/* Nothing published: never a kick. */
	assert_false(virtq_kick_needed(&s->vq));

	/* The device asks for entry 0: the first publish kicks. */
	*sim_avail_event(s) = 0;
	add_publish(s, 3);
	assert_true(virtq_kick_needed(&s->vq));
	/* It has not caught up (still asks for 0): no more kicks. */
	add_publish(s, 2);
	assert_false(virtq_kick_needed(&s->vq));
	assert_false(virtq_kick_needed(&s->vq));

	/* It processed 5 and wants to hear of entry 5 onwards. */
	drain(s);
	*sim_avail_event(s) = s->dev_avail;
	add_publish(s, 1);
	assert_true(virtq_kick_needed(&s->vq));

	/* The device polls ahead: it only wants to hear of entry 10. */
	drain(s);
	*sim_avail_event(s) = 10;
	add_publish(s, 2); /* entries 6, 7 */
	assert_false(virtq_kick_needed(&s->vq));
	add_publish(s, 2); /* 8, 9 */
	assert_false(virtq_kick_needed(&s->vq));
	add_publish(s, 3); /* 10, 11, 12: crosses it */
	assert_true(virtq_kick_needed(&s->vq));
	drain(s);

	/* Several publishes between checks count as one batch. */
	*sim_avail_event(s) = 14;
	add_publish(s, 1); /* 13 */
	add_publish(s, 1); /* 14 */
	assert_true(virtq_kick_needed(&s->vq));
	drain(s);

	/* Around the wrap. */
	advance_to(s, 65534);
	*sim_avail_event(s) = 65535;
	add_publish(s, 3); /* 65534, 65535, 0 */
	assert_true(virtq_kick_needed(&s->vq));
	drain(s);
	*sim_avail_event(s) = 2;
	add_publish(s, 1); /* 1 */
	assert_false(virtq_kick_needed(&s->vq));
	add_publish(s, 1); /* 2 */
	assert_true(virtq_kick_needed(&s->vq));
	drain(s);
	sim_free(s);
}

static void test_kick_flags(void **state)
{
	struct sim *s = sim_new(16, false);

	(void)state;
	assert_false(virtq_kick_needed(&s->vq));
	add_publish(s, 2);
	assert_true(virtq_kick_needed(&s->vq));
	/* Nothing new since: no kick. */
	assert_false(virtq_kick_needed(&s->vq));
	s->used->flags = VIRTQ_USED_F_NO_NOTIFY;
	add_publish(s, 2);
	assert_false(virtq_kick_needed(&s->vq));
	s->used->flags = 0;
	add_publish(s, 1);
	assert_true(virtq_kick_needed(&s->vq));
	/* The avail_event slot is ignored without EVENT_IDX. */
	*sim_avail_event(s) = 1000;
	add_publish(s, 1);
	assert_true(virtq_kick_needed(&s->vq));
	drain(s);
	sim_free(s);
}

static void test_irq_event_idx(void **state)
{
	struct sim *s = sim_new(16, true);
	uint16_t ids[4];
	unsigned int i;
	void *c;
	uint32_t len;

	(void)state;
	add_publish(s, 4);
	for (i = 0; i < 4; i++)
		ids[i] = sim_take(s);

	/* Off: the device returns buffers without notifying. */
	virtq_disable_irq(&s->vq);
	assert_int_equal(s->avail->flags, 0);
	sim_return(s, ids[0], 0);
	assert_int_equal(s->irqs, 0);

	/* The race: arming finds the entry that came in while off. */
	assert_true(virtq_enable_irq(&s->vq));
	assert_int_equal(*sim_used_event(s), 0);
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
	/* Armed, nothing pending: sleeping is safe, and the next entry notifies. */
	assert_false(virtq_enable_irq(&s->vq));
	assert_int_equal(*sim_used_event(s), 1);
	sim_return(s, ids[1], 0);
	assert_int_equal(s->irqs, 1);
	/* Consumed while armed: still asks for the following entry. */
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
	assert_int_equal(*sim_used_event(s), 2);
	sim_return(s, ids[2], 0);
	assert_int_equal(s->irqs, 2);
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);

	/* Disarmed again: quiet for the next 65535 entries. */
	virtq_disable_irq(&s->vq);
	sim_return(s, ids[3], 0);
	assert_int_equal(s->irqs, 2);
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
	for (i = 0; i < 70000; i++) {
		add_publish(s, 1);
		sim_return(s, sim_take(s), 0);
		assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
		if (i % 1000 == 0)
			virtq_disable_irq(&s->vq); /* the poller's refresh */
	}
	assert_int_equal(s->irqs, 2);
	assert_false(virtq_enable_irq(&s->vq));
	add_publish(s, 1);
	sim_return(s, sim_take(s), 0);
	assert_int_equal(s->irqs, 3);
	sim_free(s);
}

static void test_irq_flags(void **state)
{
	struct sim *s = sim_new(8, false);
	uint16_t ids[3];
	unsigned int i;
	void *c;
	uint32_t len;

	(void)state;
	add_publish(s, 3);
	for (i = 0; i < 3; i++)
		ids[i] = sim_take(s);

	/* On by default. */
	sim_return(s, ids[0], 0);
	assert_int_equal(s->irqs, 1);
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);

	virtq_disable_irq(&s->vq);
	assert_int_equal(s->avail->flags, VIRTQ_AVAIL_F_NO_INTERRUPT);
	sim_return(s, ids[1], 0);
	assert_int_equal(s->irqs, 1);

	assert_true(virtq_enable_irq(&s->vq));
	assert_int_equal(s->avail->flags, 0);
	assert_true(virtq_used_pending(&s->vq));
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
	assert_false(virtq_used_pending(&s->vq));
	assert_false(virtq_enable_irq(&s->vq));
	sim_return(s, ids[2], 0);
	assert_int_equal(s->irqs, 2);
	sim_free(s);
}

/* A device that returns what it was not given is counted, never trusted. */
static void test_bad_device(void **state)
{
	struct sim *s = sim_new(8, false);
	uint16_t id;
	void *c = NULL;
	uint32_t len = 0;

	(void)state;
	assert_int_equal(virtq_add(&s->vq, 0x1000, 1526, true, cookie_of(7)), 0);
	virtq_publish(&s->vq);
	id = sim_take(s);

	sim_return(s, 8, 10);		 /* out of range */
	sim_return(s, (id + 1) % 8, 10); /* free descriptor */
	sim_return(s, 0xffffffffu, 10);
	sim_return(s, id, 9000); /* longer than the buffer */
	sim_return(s, id, 10);	 /* twice */

	assert_int_equal(virtq_get_used(&s->vq, &c, &len), -EIO);
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), -EIO);
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), -EIO);
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
	assert_ptr_equal(c, cookie_of(7));
	assert_int_equal(len, 1526);
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), -EIO);
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 0);
	assert_int_equal(s->vq.dev_errors, 5);
	assert_int_equal(virtq_free_count(&s->vq), 8);
	sim_free(s);
}

/*
 * A device that writes the descriptor table (it can: the table is shared)
 * neither stretches a buffer nor sends the free list out of bounds.
 */
static void test_device_writes_descriptors(void **state)
{
	struct sim *s = sim_new(8, false);
	unsigned int i, n;
	uint16_t id;
	void *c = NULL;
	uint32_t len = 0;

	(void)state;
	assert_int_equal(virtq_add(&s->vq, 0x1000, 1526, true, cookie_of(1)), 0);
	virtq_publish(&s->vq);
	id = sim_take(s);
	memset(s->desc, 0xff, virtq_desc_bytes(8)); /* every len, next and flag */
	sim_return(s, id, 9000);
	assert_int_equal(virtq_get_used(&s->vq, &c, &len), 1);
	assert_int_equal(len, 1526);
	/* The free list still holds exactly the eight descriptors. */
	for (n = 0; n < 8; n++)
		assert_int_equal(virtq_add(&s->vq, 0x2000 + n, 64, false, cookie_of(n + 2)), 0);
	assert_int_equal(virtq_add(&s->vq, 0x3000, 64, false, cookie_of(99)), -ENOSPC);
	virtq_publish(&s->vq);
	for (i = 0; i < 8; i++) {
		id = sim_take(s);
		assert_true(id < 8);
		assert_int_equal(s->desc[id].len, 64);
	}
	sim_free(s);
}

/* The block the kernel allocates per queue: every area where §2.7 wants
 * it, the device-written part on its own pages, nothing overlapping. */
static void test_block_layout(void **state)
{
	static const unsigned sizes[] = {1, 2, 64, 256, 1024, 4096, VIRTQ_SIZE_MAX};
	size_t page = 4096;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned n = sizes[i];
		struct virtq_block b = virtq_block_layout(n, page);

		assert_int_equal(b.desc_off, 0);
		assert_int_equal(b.avail_off % VIRTQ_AVAIL_ALIGN, 0);
		assert_int_equal(b.used_off % page, 0);
		assert_int_equal(b.bytes % page, 0);
		assert_true(b.avail_off >= b.desc_off + virtq_desc_bytes(n));
		assert_true(b.used_off >= b.avail_off + virtq_avail_bytes(n));
		assert_true(b.bytes >= b.used_off + virtq_used_bytes(n));
		/* no page more than needed */
		assert_true(b.used_off < b.avail_off + virtq_avail_bytes(n) + page);
		assert_true(b.bytes < b.used_off + virtq_used_bytes(n) + page);
	}
	/* 1024 entries: 16 KiB of descriptors, 2054 bytes of driver ring, then
	 * the device ring from the next page (6 + 8192 bytes). */
	struct virtq_block b = virtq_block_layout(1024, page);
	assert_int_equal(b.avail_off, 16384);
	assert_int_equal(b.used_off, 20480);
	assert_int_equal(b.bytes, 32768);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_rejects),      cmocka_unit_test(test_init_state),
	    cmocka_unit_test(test_add_rejects),	      cmocka_unit_test(test_full_ring),
	    cmocka_unit_test(test_out_of_order),      cmocka_unit_test(test_wrap_around),
	    cmocka_unit_test(test_wrap_inside_batch), cmocka_unit_test(test_need_event_formula),
	    cmocka_unit_test(test_kick_event_idx),    cmocka_unit_test(test_kick_flags),
	    cmocka_unit_test(test_irq_event_idx),     cmocka_unit_test(test_irq_flags),
	    cmocka_unit_test(test_bad_device),
	    cmocka_unit_test(test_device_writes_descriptors),
	    cmocka_unit_test(test_block_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
