/*
 * main.c
 *	  Runs every unit test of the pure C files (beacon, url, useragent,
 *	  score) and exits non-zero when a check fails.
 */
#include <stdarg.h>
#include <stdio.h>

#include "unit.h"

int			unit_passed;
int			unit_failed;

bool
unit_check(bool ok, const char *file, int line, const char *fmt,...)
{
	va_list		ap;

	if (ok)
	{
		unit_passed++;
		return true;
	}
	unit_failed++;
	printf("FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return false;
}

bool
unit_check_str(const char *got, const char *want, const char *expr,
			   const char *file, int line)
{
	return unit_check(got != NULL && strcmp(got, want) == 0, file, line,
					  "%s is \"%s\", want \"%s\"", expr, got ? got : "(null)", want);
}

bool
unit_check_int(long long got, long long want, const char *expr,
			   const char *file, int line)
{
	return unit_check(got == want, file, line, "%s is %lld, want %lld",
					  expr, got, want);
}

int
main(void)
{
	test_beacon();
	test_url();
	test_useragent();
	test_score();
	test_addr();
	test_compat();
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed == 0 ? 0 : 1;
}
