#!/usr/bin/perl
# Writes a small, deterministic MaxMind DB (GeoIP2-City layout) for tests:
#   perl test/geoip/make-mmdb.pl OUT.mmdb [VARIANT]
# VARIANT "a" (default) and "b" place the same networks in different cities,
# so a test can swap databases and see the change.  Networks (documentation
# and benchmark ranges, never routed):
#   192.0.2.0/24     DE, Berlin     52.5200  13.4050
#   198.51.100.0/24  US, California, San Francisco 37.7749 -122.4194
#   203.0.113.0/24   JP, Tokyo      35.6762 139.6503
#   2001:db8::/32    FR, Paris      48.8566   2.3522
#   198.18.0.0/15    country only: BR (no city, no location)
# Variant "b" swaps Berlin for Munich (DE, Bavaria, 48.1351 11.5820).
# Variant "flat" has variant a's places in the flat layout of the
# ip-location-db databases (country_code, state1, city, latitude, longitude).
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my ($out, $variant) = @ARGV;
die "usage: $0 OUT.mmdb [a|b]\n" unless $out;
$variant ||= 'a';

my %types = (
	country      => 'map',
	iso_code     => 'utf8_string',
	names        => 'map',
	en           => 'utf8_string',
	city         => 'map',
	country_code => 'utf8_string',
	state1       => 'utf8_string',
	subdivisions => ['array', 'map'],
	location     => 'map',
	latitude     => 'double',
	longitude    => 'double',
);

my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version            => 6,
	record_size           => 28,
	database_type         => 'GeoIP2-City',
	languages             => ['en'],
	description           => { en => 'edgestat test database' },
	map_key_type_callback => sub {
		return 'utf8_string' if $variant eq 'flat' && $_[0] eq 'city';
		return $types{ $_[0] };
	},
	alias_ipv6_to_ipv4    => 1,
	remove_reserved_networks => 0,
);

sub place {
	my ($cc, $region, $city, $lat, $lon) = @_;
	if ($variant eq 'flat') {
		my %f = (country_code => $cc);
		$f{state1} = $region if $region;
		$f{city} = $city if $city;
		@f{qw(latitude longitude)} = ($lat, $lon) if defined $lat;
		return \%f;
	}
	my %r = (country => { iso_code => $cc, names => { en => $cc } });
	$r{subdivisions} = [ { names => { en => $region } } ] if $region;
	$r{city} = { names => { en => $city } } if $city;
	$r{location} = { latitude => $lat, longitude => $lon } if defined $lat;
	return \%r;
}

my @berlin = $variant eq 'b'
	? ('DE', 'Bavaria', 'Munich', 48.1351, 11.5820)
	: ('DE', 'Berlin', 'Berlin', 52.5200, 13.4050);

$tree->insert_network('192.0.2.0/24', place(@berlin));
$tree->insert_network('198.51.100.0/24',
	place('US', 'California', 'San Francisco', 37.7749, -122.4194));
$tree->insert_network('203.0.113.0/24', place('JP', 'Tokyo', 'Tokyo', 35.6762, 139.6503));
$tree->insert_network('2001:db8::/32', place('FR', 'Ile-de-France', 'Paris', 48.8566, 2.3522));
$tree->insert_network('198.18.0.0/15', place('BR'));

open my $fh, '>:raw', "$out.tmp" or die "$out.tmp: $!";
$tree->write_tree($fh);
close $fh or die "$out.tmp: $!";
rename "$out.tmp", $out or die "$out: $!";
