/* SPDX-License-Identifier: MIT */
/* fuzz_check: the one assertion every libFuzzer target uses. abort() rather
 * than assert(): it must fire in every build, NDEBUG or not, and libFuzzer
 * saves the input that made it fire. */
#ifndef NCX_FUZZ_CHECK_H
#define NCX_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                           \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			abort();                                                           \
		}                                                                          \
	} while (0)

#endif /* NCX_FUZZ_CHECK_H */
