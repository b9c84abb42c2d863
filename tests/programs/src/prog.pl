# File I/O, regexes, sort and hashes over a generated log, a directory walk,
# and Digest::MD5 of what was written.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
use File::Path qw(make_path);

make_path("logs/old", "logs/new");
my @hosts = qw(alpha beta gamma delta epsilon);
for my $f (0 .. 9) {
    open(my $out, '>', sprintf("logs/%s/app-%02d.log", $f % 2 ? "old" : "new", $f)) or die "open: $!";
    for my $i (0 .. 1999) {
        my $n = ($f * 7919 + $i * 104729) % 100003;
        printf $out "2024-01-%02d %s GET /item/%d status=%d bytes=%d\n",
            1 + $i % 28, $hosts[$n % @hosts], $n % 500, ($n % 11 ? 200 : 404), $n % 9973;
    }
    close($out) or die "close: $!";
}

my (%by_host, %status, %item, $bytes, $lines);
sub walk {
    my ($d) = @_;
    opendir(my $dh, $d) or die "opendir $d: $!";
    for my $e (sort grep { !/^\./ } readdir $dh) {
        my $p = "$d/$e";
        if (-d $p) { walk($p); next; }
        next unless $e =~ /^app-(\d+)\.log$/;
        open(my $in, '<', $p) or die "open $p: $!";
        while (<$in>) {
            $lines++;
            my ($host, $it, $st, $b) = m{^\S+ (\w+) GET /item/(\d+) status=(\d+) bytes=(\d+)$} or die "bad line: $_";
            $by_host{$host} += $b;
            $status{$st}++;
            $item{$it}++;
            $bytes += $b;
        }
        close $in;
    }
}
walk("logs");
open(my $rep, '>', 'report.txt') or die;
print $rep "lines $lines bytes $bytes\n";
print $rep "$_ $by_host{$_}\n" for sort { $by_host{$b} <=> $by_host{$a} || $a cmp $b } keys %by_host;
print $rep "status $_ $status{$_}\n" for sort { $a <=> $b } keys %status;
my @top = (sort { $item{$b} <=> $item{$a} || $a <=> $b } keys %item)[0 .. 4];
print $rep "top items @top\n";
close $rep;
rename('logs/old', 'logs/archived') or die "rename: $!";
unlink glob('logs/new/app-0[02468].log');
open(my $r, '<', 'report.txt') or die;
my $text = do { local $/; <$r> };
print $text;
print "md5 ", md5_hex($text), "\n";
print "left: ", join(' ', map { s{^logs/}{}r } sort glob('logs/*/*')), "\n";
print "size of report: ", -s 'report.txt', "\n";
