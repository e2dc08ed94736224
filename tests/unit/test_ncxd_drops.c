/* SPDX-License-Identifier: MIT */
/* ncxd's drop reasons: the engine's are named by the engine, ncxd's own by
 * metrics.c, and the engine's drops that ncxd counts map to the right one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../cmd/ncxd/ncxd.h"

static void test_names(void **state)
{
	static const char *const want[NCXD_D_COUNT] = {
		[NCXD_D_LATE] = "late",
		[NCXD_D_WINDOW] = "window",
		[NCXD_D_MEMORY] = "memory",
		[NCXD_D_FRAGS] = "frags",
		[NCXD_D_TOO_MANY_SENDERS] = "too_many_senders",
		[NCXD_D_WRITE_ERROR] = "write_error",
		[NCXD_D_NO_BUFFER] = "no_buffer",
	};

	for (int r = 0; r < NCXD_D_COUNT; r++) {
		assert_string_equal(ncxd_drop_reason_name((enum ncxd_drop)r), want[r]);
	}
	assert_string_equal(ncxd_drop_reason_name(NCXD_D_COUNT), "unknown");
}

/* What worker.c's on_drop() counts, and under which reason. */
static void test_from_rx(void **state)
{
	assert_int_equal(ncxd_drop_from_rx(NCX_DROP_LATE), NCXD_D_LATE);
	assert_int_equal(ncxd_drop_from_rx(NCX_DROP_MEMORY), NCXD_D_MEMORY);
	assert_int_equal(ncxd_drop_from_rx(NCX_DROP_FRAGS), NCXD_D_FRAGS);
	assert_int_equal(ncxd_drop_from_rx(NCX_DROP_TOO_MANY_SENDERS), NCXD_D_TOO_MANY_SENDERS);
	assert_int_equal(ncxd_drop_from_rx(NCX_DROP_MALFORMED), -1);
	assert_int_equal(ncxd_drop_from_rx(NCX_DROP_DUPLICATE), -1);
	assert_int_equal(ncxd_drop_from_rx(NCX_DROP_WINDOW), -1);
	assert_int_equal(ncxd_drop_from_rx(NCX_DROP_REASON_COUNT), -1);
	for (int r = 0; r < NCX_DROP_REASON_COUNT; r++) {
		int d = ncxd_drop_from_rx((enum ncx_rx_drop_reason)r);

		if (d >= 0)
			assert_string_equal(ncxd_drop_reason_name((enum ncxd_drop)d),
					    ncx_rx_drop_reason_name((enum ncx_rx_drop_reason)r));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_from_rx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
