#!/usr/bin/perl
# Verifies the DKIM signatures of one message with Mail::DKIM::Verifier, for
# t-37-dkim_signing. The keys come from the command line, not from DNS:
# Mail::DKIM::DNS::query is replaced by a lookup in NAME=RECORD pairs, so
# nothing leaves the machine.
#
#   perl mail_dkim_verify.pl MESSAGE NAME=RECORD...
#
# Prints one line per signature: "SELECTOR ALGORITHM RESULT DETAIL", in the
# order of the message's DKIM-Signature fields.
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS;

my ($file, @records) = @ARGV;
my %txt = map { my ($name, $record) = split /=/, $_, 2; (lc $name => $record) } @records;

{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($domain, $type) = @_;
        my $record = $txt{ lc $domain };
        unless (defined $record && uc $type eq 'TXT') {
            $@ = 'NXDOMAIN';
            return;
        }
        # Character-strings of at most 255 octets, joined by the verifier.
        my @strings = unpack('(a250)*', $record);
        return Net::DNS::RR->new(name => $domain, type => 'TXT', txtdata => [@strings]);
    };
}

open my $fh, '<:raw', $file or die "$file: $!\n";
my $message = do { local $/; <$fh> };
close $fh;

my $dkim = Mail::DKIM::Verifier->new();
$dkim->PRINT($message);
$dkim->CLOSE;
for my $sig ($dkim->signatures) {
    printf "%s %s %s %s\n", $sig->selector // '-', $sig->algorithm // '-', $sig->result // '-',
        $sig->result_detail // '';
}
