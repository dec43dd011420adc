/*
 * unit.h
 *	  A dozen lines of test harness: the pure C files need nothing more.
 *
 * CHECK prints one line per failing check; main prints the totals.
 */
#ifndef EDGESTAT_UNIT_H
#define EDGESTAT_UNIT_H

#include <stdbool.h>
#include <string.h>

extern int	unit_passed;
extern int	unit_failed;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 4, 5)))
#endif
extern bool unit_check(bool ok, const char *file, int line, const char *fmt,...);

#define CHECK(cond) unit_check((cond), __FILE__, __LINE__, "%s", #cond)
#define CHECKF(cond, ...) unit_check((cond), __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_STR(got, want) unit_check_str((got), (want), #got, __FILE__, __LINE__)
#define CHECK_INT(got, want) \
	unit_check_int((long long) (got), (long long) (want), #got, __FILE__, __LINE__)

extern bool unit_check_str(const char *got, const char *want, const char *expr,
						   const char *file, int line);
extern bool unit_check_int(long long got, long long want, const char *expr,
						   const char *file, int line);

extern void test_beacon(void);
extern void test_url(void);
extern void test_useragent(void);
extern void test_score(void);
extern void test_addr(void);
extern void test_compat(void);

#endif
