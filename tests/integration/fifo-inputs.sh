#!/bin/sh
# A FIFO where a file should be -- a PIN file, trust anchors, a
# configuration file, a key, sksd's TLS certificate -- gets an error that
# says so at once: nothing opens it and waits for a writer that never
# comes.  Each command runs under timeout(1), which would end a hang.
. "$top_srcdir/tests/integration/keystore-common.sh"
ks_setup
mkfifo fifo
token_listing before

# fast NAME TEXT CMD...: CMD fails within 20 s saying TEXT.
fast() {
    fa_name=$1
    fa_text=$2
    shift 2
    # A command that waited would say nothing before timeout(1) ended it.
    run_fails "$fa_name" "$fa_text" timeout 20 "$@"
    pass "a_fifo_as_${fa_name}_is_refused_at_once"
}

fast pin-file "PIN file: $sks_work/fifo is not a regular file (a FIFO)" "$SKSCTL" list -c ks.conf --pin-file fifo
sed 's|^trust_anchors = .*|trust_anchors = fifo|' ks.conf > trust.conf
fast trust-anchors "trust anchors: $sks_work/fifo is not a regular file (a FIFO)" \
    "$SKSCTL" attach -c trust.conf --cert pki/sp-1234.pem --x5u https://cert.example.org/sp.pem \
    sp-main
fast configuration "configuration file fifo is not a regular file" "$SKSCTL" list -c fifo
fast key "key fifo is not a regular file" "$SKSCTL" sign --key fifo --orig 12155550121 \
    --dest 12155550131 --attest A --x5u https://cert.example.org/sp.pem
fast verify-trust "fifo is not a regular file (a FIFO)" "$SKSCTL" verify \
    --cert pki/sp-1234.pem --trust fifo "x.y.z;info=<https://cert.example.org/sp.pem>"

token_listing after
assert_same_file "token unchanged" before after
