#!/usr/bin/perl
# work.pl — the perl application benchmark (scripts/bench_app.sh): word,
# n-gram and regex work over a text file, printing a deterministic summary
# (every sort breaks ties by key).
#
#   perl work.pl TEXTFILE
use strict;
use warnings;

my $file = shift or die "usage: work.pl TEXTFILE\n";
open(my $fh, '<', $file) or die "$file: $!\n";

my (%words, %bigrams, %trigrams, %suffix, %dates, %first, @long);
my ($lines, $nwords, $chars, $sentences) = (0, 0, 0, 0);
while (my $line = <$fh>) {
    chomp $line;
    $lines++;
    $chars += length $line;
    $sentences++ while $line =~ /[.!?](?:\s|$)/g;
    $dates{$1}++ while $line =~ /\b(\d{4})-\d{2}-\d{2}\b/g;
    $suffix{$1}++ while $line =~ /\b\w+?(ing|ed|ly|er|tion)\b/g;
    (my $clean = lc $line) =~ s/[^a-z ]+/ /g;
    my @w = split ' ', $clean;
    $nwords += @w;
    $first{$w[0]}++ if @w;
    for my $i (0 .. $#w) {
        $words{$w[$i]}++;
        $bigrams{"$w[$i] $w[$i+1]"}++ if $i < $#w;
        $trigrams{"$w[$i] $w[$i+1] $w[$i+2]"}++ if $i < $#w - 1 && length($w[$i]) > 4;
    }
    push @long, $line if length($line) > 150;
    shift @long if @long > 5000;
}
close $fh;

# The N largest counts of a hash, ties by key: one pass keeping a sorted
# list of N (sorting a million keys would make this a benchmark of sort).
sub top {
    my ($h, $n) = @_;
    my @best;
    while (my ($k, $c) = each %$h) {
        next if @best == $n && ($c < $best[-1][1] || ($c == $best[-1][1] && $k gt $best[-1][0]));
        my $i = @best;
        $i-- while $i > 0 && ($best[$i-1][1] < $c || ($best[$i-1][1] == $c && $best[$i-1][0] gt $k));
        splice @best, $i, 0, [$k, $c];
        pop @best if @best > $n;
    }
    return join(', ', map { "$_->[0]=$_->[1]" } @best);
}

# rewrite: reverse every word of the long lines, capitalise, join and split again
my $joined = join("\n", map { join(' ', map { scalar reverse $_ } split / /) } @long);
(my $caps = $joined) =~ s/\b(\w)(\w*)/\u$1$2/g;
my %rev;
$rev{$_}++ for grep { length > 6 } split /\s+/, $caps;

printf "lines %d words %d chars %d sentences %d distinct %d bigrams %d trigrams %d\n",
    $lines, $nwords, $chars, $sentences, scalar(keys %words), scalar(keys %bigrams),
    scalar(keys %trigrams);
print "top words: ", top(\%words, 15), "\n";
print "top bigrams: ", top(\%bigrams, 10), "\n";
print "top trigrams: ", top(\%trigrams, 10), "\n";
print "suffixes: ", top(\%suffix, 5), "\n";
print "first words: ", top(\%first, 5), "\n";
print "years: ", top(\%dates, 5), "\n";
print "reversed: ", scalar(keys %rev), " ", top(\%rev, 5), "\n";
my @singles = sort grep { $words{$_} == 1 } keys %words;
print "hapax: ", scalar(@singles), " ", join(' ', @singles[0 .. ($#singles < 9 ? $#singles : 9)]), "\n";
