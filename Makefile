# edgestat: PGXS build, tests and the two commands of the README.
#
#   make && make install      build and install the extension
#   make run                  throwaway cluster + demo site + dashboard
#   make test                 every test (as root: installs what is missing)
#   make unittest             pure-C unit tests of the parser and classifiers
#   make fuzz                 libFuzzer over the beacon parser (FUZZ_SECONDS)
#   make bench                benchmarks (see bench/README.md)
#   make soak                 the soak: a steady mix for 30 min (SOAK_SECONDS)

EXTENSION = edgestat
MODULE_big = edgestat
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/core/*.c src/http/*.c)))
# 1.0 is released and frozen; changes to the SQL surface are upgrade steps.
DATA = sql/edgestat--1.0.sql
DATA_built = sql/edgestat--1.0--1.1.sql
PG_CPPFLAGS = -Isrc -Isrc/core -Isrc/http
SHLIB_LINK = -lmicrohttpd -lgnutls -lcjson -lmaxminddb -lm

# In this order: ingest sets up the sites and helpers the others use.
REGRESS = ingest merge dedup ratelimit score geo notify privileges \
	$(filter-out ingest merge dedup ratelimit score geo notify privileges edgestat--%,\
		$(sort $(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --temp-config=test/regress.conf --temp-instance=tmp_check_regress
TAP_TESTS = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
endif

# Every object depends on every header: few enough to not bother finer.
$(OBJS): $(wildcard src/*.h src/core/*.h src/http/*.h)

# The unreleased upgrade step is assembled from its parts, one per concern.
sql/edgestat--1.0--1.1.sql: $(sort $(wildcard sql/update-1.1/*.sql))
	cat $^ > $@

# Deterministic GeoIP databases for the tests (MaxMind::DB::Writer).
GEOIP_TEST_DBS = test/data/geo-a.mmdb test/data/geo-b.mmdb test/data/geo-flat.mmdb
test/data/geo-%.mmdb: test/geoip/make-mmdb.pl
	@mkdir -p test/data
	perl $< $@ $*
installcheck: $(GEOIP_TEST_DBS)

ASSETDIR = $(DESTDIR)$(datadir)/extension/edgestat

.PHONY: install-assets unittest fuzz bench soak run test
install: install-assets
install-assets:
	$(MKDIR_P) '$(ASSETDIR)/dashboard'
	if [ -f tracker-js/dist/e.js ]; then $(INSTALL_DATA) tracker-js/dist/e.js '$(ASSETDIR)/e.js'; fi
	if [ -d dashboard/dist ]; then cp -R dashboard/dist/. '$(ASSETDIR)/dashboard/'; fi

unittest:
	$(MAKE) -C test/unit

fuzz:
	$(MAKE) -C fuzz run

bench:
	bash bench/run

soak:
	bash bench/soak/run

run:
	bash .ci/demo

test:
	bash .ci/test
