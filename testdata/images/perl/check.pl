#!/usr/bin/perl
# Converted-vs-native comparison script for the perl image: core modules,
# file I/O, fork + pipe + waitpid, sort and regular expressions. Its output
# must be deterministic (no pids, times or temporary names printed).
use strict;
use warnings;
use List::Util qw(sum max min first shuffle reduce);
use Digest::SHA qw(sha256_hex sha1_hex);
use File::Temp qw(tempfile tempdir);
use POSIX qw(floor ceil strftime :sys_wait_h);

$| = 1;
my @n = map { ($_ * 7919) % 1000 } 1 .. 500;
printf "sum=%d max=%d min=%d first>990=%s\n", sum(@n), max(@n), min(@n), (first { $_ > 990 } @n) // 'none';
printf "reduce=%d\n", reduce { ($a * 31 + $b) % 1000003 } @n;
print "sha256(abc)=", sha256_hex("abc"), "\n";
print "sha1(perl)=", sha1_hex("perl"), "\n";
print "floor/ceil=", floor(-2.5), "/", ceil(2.1), "\n";
print "strftime=", strftime("%Y-%m-%d %H:%M:%S", gmtime(86400 * 365)), "\n";

# file I/O in a temporary directory
my $dir = tempdir(CLEANUP => 1);
my ($fh, $fname) = tempfile(DIR => $dir);
for my $i (1 .. 2000) { print $fh "line $i ", "x" x ($i % 50), "\n"; }
close $fh or die "close: $!";
open(my $in, '<', $fname) or die "open: $!";
my ($lines, $bytes, $long) = (0, 0, 0);
while (my $l = <$in>) { $lines++; $bytes += length $l; $long++ if $l =~ /x{40,}/; }
close $in;
print "file lines=$lines bytes=$bytes long=$long size=", -s $fname, "\n";
open(my $ap, '>>', $fname) or die; print $ap "appended\n"; close $ap;
open($in, '<', $fname) or die; my @all = <$in>; close $in;
print "last=$all[-1]";
rename $fname, "$dir/renamed" or die "rename: $!";
print "renamed exists=", (-e "$dir/renamed" ? 1 : 0), " old exists=", (-e $fname ? 1 : 0), "\n";
opendir(my $dh, $dir) or die; my @ents = sort grep { !/^\./ } readdir $dh; closedir $dh;
print "dir=@ents\n";
open(my $digf, '<', "$dir/renamed") or die; binmode $digf;
print "file sha256=", Digest::SHA->new(256)->addfile($digf)->hexdigest, "\n"; close $digf;

# fork + pipe + waitpid: children compute, the parent collects in order
my @kids;
for my $k (1 .. 4) {
  pipe(my $r, my $w) or die "pipe: $!";
  my $pid = fork() // die "fork: $!";
  if ($pid == 0) {
    close $r;
    my $s = 0; $s += $_ * $k for 1 .. 10000;
    print $w "child $k sum $s sha ", substr(sha256_hex("k$k"), 0, 16), "\n";
    close $w;
    POSIX::_exit($k);
  }
  close $w;
  push @kids, [$pid, $r, $k];
}
for my $c (@kids) {
  my ($pid, $r, $k) = @$c;
  my $msg = <$r>; close $r;
  my $got = waitpid($pid, 0);
  printf "%s  waited=%s exit=%d\n", $msg =~ s/\n//r, ($got == $pid ? 'ok' : 'bad'), $? >> 8;
}
# a child reading from the parent through a pipe, open '-|' style
my $pid = open(my $kid, '-|') // die "fork: $!";
if (!$pid) { print "from child: ", join(",", map { $_ ** 2 } 1 .. 8), "\n"; exit 0; }
print while <$kid>;
close $kid; print "child status=$?\n";
print "waitpid none=", waitpid(-1, WNOHANG), "\n";

# sort and regular expressions
my @words = qw(pear Apple banana cherry apple Banana date fig grape kiwi lemon mango);
print "sorted=", join(" ", sort @words), "\n";
print "ci sorted=", join(" ", sort { lc $a cmp lc $b or $a cmp $b } @words), "\n";
print "by length=", join(" ", sort { length $a <=> length $b or $a cmp $b } @words), "\n";
my %count; $count{lc $_}++ for @words;
print "counts=", join(",", map { "$_:$count{$_}" } sort keys %count), "\n";
my $text = "2024-01-15 ERROR disk full; 2024-02-03 WARN cpu hot; 2024-03-09 ERROR net down";
my @errs = $text =~ /(\d{4})-(\d\d)-(\d\d) ERROR ([^;]+)/g;
print "errors=@errs\n";
(my $t2 = $text) =~ s/(\d{4})-(\d\d)-(\d\d)/$3.$2.$1/g;
print "rewritten=$t2\n";
my @split = split /\s*;\s*/, $text;
print "parts=", scalar(@split), " upper=", join("|", map { uc((split ' ', $_)[1]) } @split), "\n";
print "tr count=", ($text =~ tr/0-9//), "\n";
printf "sprintf=%05.1f|%-6s|%x|%o|%e\n", 3.14159, "ab", 255, 8, 12345.678;
print "env PATH set=", (defined $ENV{PATH} ? 1 : 0), "\n";
print "done\n";
