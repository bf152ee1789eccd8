/* Unit tests for kvd's meta commands: mg ms md ma mn me, their flags and bad forms. */
/* unit-sources: usr/kvd/engine/[a-z]*.c */
#include "kvd_test_util.h"

#define MB (1u << 20)

/* Replies with every "c<cas>" / "cas=<n>" replaced by "c#", so they compare. */
static char *io_nocas(struct kt *t, const char *req)
{
	char *out = kt_io(t, req), *r = out, *w = out;

	while (*r) {
		bool cflag = r[0] == ' ' && r[1] == 'c' && r[2] >= '0' && r[2] <= '9';
		bool cas = !strncmp(r, "cas=", 4);

		if (cflag || cas) {
			size_t skip = cflag ? 2 : 4;

			memcpy(w, r, skip);
			w += skip;
			r += skip;
			while (*r >= '0' && *r <= '9')
				r++;
			*w++ = '#';
			continue;
		}
		*w++ = *r++;
	}
	*w = 0;
	return out;
}

#define expect_nc(t, req, want)                                                                    \
	do {                                                                                       \
		char *got_ = io_nocas((t), (req));                                                 \
		assert_string_equal(got_, (want));                                                 \
		free(got_);                                                                        \
	} while (0)

static void test_mg_ms_basics(void **state)
{
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "mg foo v\r\n", "EN\r\n");
	kt_expect(&t, "mg foo v q\r\nmn\r\n", "MN\r\n");
	kt_expect(&t, "mg foo k O12 v\r\n", "EN kfoo O12\r\n");
	expect_nc(&t, "ms foo 2 T90 F5 c k O123\r\nhi\r\n", "HD c# kfoo O123\r\n");
	kt_expect(&t, "mg foo\r\n", "HD\r\n");
	kt_expect(&t, "mg foo v\r\n", "VA 2\r\nhi\r\n");
	expect_nc(&t, "mg foo s v f t c k O9\r\n", "VA 2 s2 f5 t90 c# kfoo O9\r\nhi\r\n");
	kt_expect(&t, "mg foo q\r\n", "HD\r\n");
	kt_advance(&t, 10);
	kt_expect(&t, "mg foo t l h u\r\n", "HD t80 l10 h1\r\n");
	kt_expect(&t, "mg foo T30 t\r\n", "HD t30\r\n");
	kt_expect(&t, "ms e 0\r\n\r\nmg e v s\r\n", "HD\r\nVA 0 s0\r\n\r\n");
	kt_expect(&t, "ms x 2 T-1\r\nhi\r\nmg x v\r\n", "HD\r\nEN\r\n");
	kt_expect(&t, "ms p 2 P/foo Lbar\r\nhi\r\nmg p v Pzz\r\n", "HD\r\nVA 2\r\nhi\r\n");
	kt_expect(&t, "mn\r\nmn foo\r\n", "MN\r\nMN\r\n");
	kt_close(&t);
}

static void test_ms_modes_and_cas(void **state)
{
	struct kt t;
	char *out, req[128];
	unsigned long long cas;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "ms k 2 ME\r\nhi\r\nms k 2 ME\r\nho\r\n", "HD\r\nNS\r\n");
	kt_expect(&t, "ms nokey 2 MR\r\nhi\r\n", "NS\r\n");
	kt_expect(&t, "ms k 2 MA\r\nXY\r\nms k 2 Mp\r\nAB\r\nmg k v\r\n",
		  "HD\r\nHD\r\nVA 6\r\nABhiXY\r\n");
	kt_expect(&t, "ms k 2 MS\r\nhi\r\n", "HD\r\n");
	kt_expect(&t, "ms k 2 MX\r\nhi\r\n", "CLIENT_ERROR invalid mode for ms M token\r\n");
	out = kt_io(&t, "mg k c\r\n");
	assert_int_equal(sscanf(out, "HD c%llu", &cas), 1);
	free(out);
	kt_expect(&t, "ms k 2 C1\r\nhi\r\n", "EX\r\n");
	kt_expect(&t, "ms nokey 2 C1\r\nhi\r\n", "NF\r\n");
	snprintf(req, sizeof(req), "ms k 2 C%llu q\r\nho\r\nmn\r\n", cas);
	kt_expect(&t, req, "MN\r\n");
	kt_expect(&t, req, "EX\r\nMN\r\n"); /* quiet hides only success */
	kt_expect(&t, "mg k v\r\n", "VA 2\r\nho\r\n");
	kt_close(&t);
}

/* md I marks stale: one client wins (W) the recache, the others see Z; X throughout. */
static void test_stale_and_win(void **state)
{
	struct kt t;
	char *out, req[128];
	unsigned long long cas;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "ms s 2\r\nhi\r\nmd s I T30\r\n", "HD\r\nHD\r\n");
	expect_nc(&t, "mg s v c t\r\n", "VA 2 c# t30 X W\r\nhi\r\n");
	expect_nc(&t, "mg s v c\r\n", "VA 2 c# Z X\r\nhi\r\n");
	out = kt_io(&t, "mg s c\r\n");
	assert_int_equal(sscanf(out, "HD c%llu", &cas), 1);
	free(out);
	/* an older CAS with I stores, but the value stays marked stale */
	snprintf(req, sizeof(req), "ms s 2 I C%llu\r\nho\r\n", cas - 1);
	kt_expect(&t, req, "HD\r\n");
	kt_expect(&t, "mg s v\r\n", "VA 2 X W\r\nho\r\n");
	kt_expect(&t, "ms s 2\r\nok\r\nmg s v\r\n", "HD\r\nVA 2\r\nok\r\n");
	/* vivify on miss: the first asker wins, later ones see Z */
	expect_nc(&t, "mg v N30 v c t s\r\n", "VA 0 c# t30 s0 W\r\n\r\n");
	kt_expect(&t, "mg v v t\r\n", "VA 0 t30 Z\r\n\r\n");
	/* early recache: a TTL under R wins once */
	kt_expect(&t, "ms r 2 T100\r\nhi\r\nmg r R200 v t\r\nmg r R200 v t\r\nmg r R20 v t\r\n",
		  "HD\r\nVA 2 t100 W\r\nhi\r\nVA 2 t100 Z\r\nhi\r\nVA 2 t100 Z\r\nhi\r\n");
	kt_close(&t);
}

static void test_md_ma(void **state)
{
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "md z q\r\nmn\r\n", "NF\r\nMN\r\n");
	kt_expect(&t, "ms z 1\r\nx\r\nmd z q\r\nmd z q k O7\r\nmn\r\n", "HD\r\nNF kz O7\r\nMN\r\n");
	kt_expect(&t, "ms z 1\r\nx\r\nmd z C1\r\n", "HD\r\nEX\r\n");
	kt_expect(&t, "ma n\r\nma n q\r\n", "NF\r\nNF\r\n");
	kt_expect(&t, "ma n N0 J10\r\nma n v\r\nma n v MD D100\r\n",
		  "HD\r\nVA 2\r\n11\r\nVA 1\r\n0\r\n");
	expect_nc(&t, "ma n v M+ D5 t c k O1\r\n", "VA 1 t-1 c# kn O1\r\n5\r\n");
	kt_expect(&t, "ma n q D1\r\nmn\r\n", "MN\r\n");
	kt_expect(&t, "ma n MX\r\n", "CLIENT_ERROR invalid mode for ma M token\r\n");
	kt_expect(&t, "ma n Dabc\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n");
	kt_expect(&t, "ma n N0 Jabc\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n");
	kt_expect(&t, "ma m N0 J18446744073709551615 v\r\nma m v\r\nma m v MD D5\r\n",
		  "VA 20\r\n18446744073709551615\r\nVA 1\r\n0\r\nVA 1\r\n0\r\n");
	kt_expect(&t, "ms x 1\r\nx\r\nma x\r\n",
		  "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
	kt_expect(&t, "ma t N0 T50 t v\r\n", "VA 1 t-1\r\n0\r\n"); /* T applies on a hit */
	kt_expect(&t, "ma t T50 t\r\n", "HD t50\r\n");
	kt_close(&t);
}

static void test_base64_keys(void **state)
{
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "ms Zm9v 2 b\r\nhi\r\nmg foo v\r\n", "HD\r\nVA 2\r\nhi\r\n");
	kt_expect(&t, "mg Zm9v b k v\r\n", "VA 2 kZm9v b\r\nhi\r\n");
	kt_expect(&t, "mg AAEC/w== b k\r\n", "EN kAAEC/w== b\r\n");
	kt_expect(&t, "ms AAEC/w== 1 b\r\nz\r\nmg AAEC/w== b v\r\n", "HD\r\nVA 1\r\nz\r\n");
	kt_expect(&t, "mg ### b v\r\n", "CLIENT_ERROR error decoding key\r\n");
	kt_expect(&t, "mg a= b\r\n", "CLIENT_ERROR error decoding key\r\n");
	kt_expect(&t, "mg YWJjZA b\r\n", "CLIENT_ERROR error decoding key\r\n");
	kt_expect(&t, "ms foo 2 k b\r\nhi\r\n", "CLIENT_ERROR error decoding key\r\n");
	expect_nc(&t, "me Zm9v b\r\n", "ME Zm9v exp=-1 la=0 cas=# fetch=yes cls=1 size=87\r\n");
	kt_close(&t);
}

static void test_meta_bad_forms(void **state)
{
	static const char *const cases[][2] = {
	    {"mg\r\n", "ERROR\r\n"},
	    {"mz foo\r\n", "ERROR\r\n"},
	    {"me\r\n", "CLIENT_ERROR bad command line format\r\n"},
	    {"ms foo\r\nhi\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	    {"ms foo abc\r\nhi\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	    {"ms foo -2\r\nhi\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	    {"ms foo 2 Z\r\nhi\r\n", "CLIENT_ERROR invalid flag\r\n"},
	    {"ms foo 2 S2\r\nhi\r\n", "CLIENT_ERROR invalid flag\r\n"},
	    {"ms foo 2 T\r\nhi\r\n", "CLIENT_ERROR bad token in command line format\r\n"},
	    {"ms foo 2 Tabc\r\nhi\r\n", "CLIENT_ERROR bad token in command line format\r\n"},
	    {"ms foo 2 C-1\r\nhi\r\n", "CLIENT_ERROR bad token in command line format\r\n"},
	    {"ms foo 2 Fabc\r\nhi\r\n", "CLIENT_ERROR bad command line format\r\n"},
	    {"ms foo 2 F4294967296\r\nhi\r\n", "CLIENT_ERROR bad command line format\r\n"},
	    {"ms foo 2 T1 T2\r\nhi\r\n", "CLIENT_ERROR duplicate flag\r\n"},
	    {"ms foo 3\r\nhiXX\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n"},
	    {"mg foo v x\r\n", "CLIENT_ERROR invalid flag\r\n"},
	    {"mg foo v T\r\n", "CLIENT_ERROR bad token in command line format\r\n"},
	    {"mg foo v N\r\n", "CLIENT_ERROR bad token in command line format\r\n"},
	    {"mg foo v v\r\n", "CLIENT_ERROR duplicate flag\r\n"},
	    {"mg foo v v v v v v v v v v v v v v v v v v v v v v v v v\r\n",
	     "CLIENT_ERROR options flags are too long\r\n"},
	    {"mg foo v Oabcdefghijabcdefghijabcdefghijabc\r\n",
	     "CLIENT_ERROR opaque token too long\r\n"},
	    {"mg foo \xff\r\n", "CLIENT_ERROR invalid flag\r\n"},
	    {"md foo x\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"},
	    {"md foo C\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"},
	    {"md foo q q\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"},
	    {"ma foo M\r\n", "CLIENT_ERROR invalid mode for ma M token\r\n"},
	};
	struct kt t;
	char key[300], req[400];

	(void)state;
	kt_open(&t, 8 * MB, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = kt_io(&t, cases[i][0]);

		if (strcmp(got, cases[i][1]))
			fail_msg("case %zu %s: got [%s] want [%s]", i, cases[i][0], got,
				 cases[i][1]);
		free(got);
	}
	memset(key, 'a', 251);
	key[251] = 0;
	snprintf(req, sizeof(req), "mg %s v\r\n", key);
	kt_expect(&t, req, "CLIENT_ERROR bad command line format\r\n");
	/* a refused ms swallows its data: the next command is read normally */
	kt_expect(&t, "ms foo 2 Z\r\nhi\r\nmn\r\n", "CLIENT_ERROR invalid flag\r\nMN\r\n");
	kt_expect(&t, "ms foo 2000000 T0\r\n", "SERVER_ERROR object too large for cache\r\n");
	kt_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mg_ms_basics),  cmocka_unit_test(test_ms_modes_and_cas),
	    cmocka_unit_test(test_stale_and_win), cmocka_unit_test(test_md_ma),
	    cmocka_unit_test(test_base64_keys),	  cmocka_unit_test(test_meta_bad_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
