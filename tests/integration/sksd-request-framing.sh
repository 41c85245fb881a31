#!/bin/sh
# Request smuggling (RFC 9112 section 6.3): a request whose body length is
# ambiguous is refused with 400, a message naming the problem and a closed
# connection, on every listener (signing API, /metrics, import socket).  Two
# Content-Length headers (different or equal), an invalid one, any
# Transfer-Encoding but one "chunked", and Transfer-Encoding together with
# Content-Length.  A raw client (sksd_client raw) sends the bytes as they are
# and then an ordinary request on the same connection: nothing may answer it.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
sksd_start
provision_version sp-main activate > /dev/null

BODY='{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'
BODY_LEN=$(printf '%s' "$BODY" | wc -c)

# raw NAME ADDRESS: sends $sks_work/NAME.req; the answer is in $sks_work/NAME.out.
raw() {
    run_ok "$1" "$SKSD_CLIENT" raw "$2" "$sks_work/$1.req"
}

# closed_with NAME ADDRESS STATUS: the request in $sks_work/NAME.req gets
# STATUS with "Connection: close", and the connection is closed.
closed_with() {
    raw "$1" "$2"
    assert_grep "$1" "status $3" "$sks_work/$1.out"
    assert_grep "$1" "connection-close yes" "$sks_work/$1.out"
    assert_grep "$1" "connection closed" "$sks_work/$1.out"
}

# refused NAME ADDRESS FIELD MESSAGE: 400 and closed, with sksd's error naming
# the header FIELD and the problem.
refused() {
    closed_with "$1" "$2" 400
    assert_grep "$1" "\"code\":\"invalid-framing\",\"message\":\"$4" "$sks_work/$1.out"
    assert_grep "$1" "\"field\":\"$3\"" "$sks_work/$1.out"
}

# request NAME METHOD PATH HEADER...: writes $sks_work/NAME.req, each HEADER a
# line, then the signing request body.
request() {
    rq_name=$1
    rq_method=$2
    rq_path=$3
    shift 3
    {
        printf '%s %s HTTP/1.1\r\nHost: sksd\r\nContent-Type: application/json\r\n' \
            "$rq_method" "$rq_path"
        for h in "$@"; do
            printf '%s\r\n' "$h"
        done
        printf '\r\n%s' "$BODY"
    } > "$sks_work/$rq_name.req"
}

sign_at=127.0.0.1:$sksd_port
import_at=unix:$sks_work/import.sock

# The raw client itself: a well-framed request is answered and the connection stays open.
request plain POST /stir/v1/signing "Content-Length: $BODY_LEN"
raw plain "$sign_at"
assert_grep plain "status 200" "$sks_work/plain.out"
assert_grep plain "connection open" "$sks_work/plain.out"
pass "framing_a_well_framed_request_is_answered_on_a_kept_connection"

for at in sign import metrics; do
    case $at in
    sign) addr=$sign_at method=POST path=/stir/v1/signing ;;
    metrics) addr=$sign_at method=GET path=/metrics ;;
    import) addr=$import_at method=GET path=/sks/v1/identities ;;
    esac

    request "$at-cl-differ" "$method" "$path" "Content-Length: $BODY_LEN" "Content-Length: 5"
    refused "$at-cl-differ" "$addr" Content-Length "repeated Content-Length header"
    request "$at-cl-equal" "$method" "$path" "Content-Length: $BODY_LEN" "Content-Length: $BODY_LEN"
    refused "$at-cl-equal" "$addr" Content-Length "repeated Content-Length header"
    pass "framing_${at}_refuses_repeated_content_length"

    # A lone Content-Length that is not digits libmicrohttpd refuses itself,
    # with its own page, before sksd sees the request; past 64 bits it is 413.
    i=0
    for v in abc +5 -5 "5 5" 0x10 "$BODY_LEN, $BODY_LEN" ""; do
        i=$((i + 1))
        request "$at-cl-bad$i" "$method" "$path" "Content-Length: $v"
        closed_with "$at-cl-bad$i" "$addr" 400
    done
    request "$at-cl-huge" "$method" "$path" "Content-Length: 99999999999999999999999"
    closed_with "$at-cl-huge" "$addr" 413
    pass "framing_${at}_refuses_invalid_content_length_and_closes"

    i=0
    for v in "gzip, chunked" "chunked, chunked" gzip identity "chunked;x=1"; do
        i=$((i + 1))
        request "$at-te-bad$i" "$method" "$path" "Transfer-Encoding: $v"
        refused "$at-te-bad$i" "$addr" Transfer-Encoding \
            "Transfer-Encoding must be chunked alone, not $v"
    done
    request "$at-te-two" "$method" "$path" "Transfer-Encoding: chunked" "Transfer-Encoding: chunked"
    refused "$at-te-two" "$addr" Transfer-Encoding "repeated Transfer-Encoding header"
    pass "framing_${at}_refuses_transfer_encoding_other_than_chunked"

    request "$at-te-cl" "$method" "$path" "Transfer-Encoding: chunked" "Content-Length: $BODY_LEN"
    refused "$at-te-cl" "$addr" Transfer-Encoding "both Transfer-Encoding and Content-Length"
    request "$at-cl-te" "$method" "$path" "Content-Length: $BODY_LEN" "Transfer-Encoding: chunked"
    refused "$at-cl-te" "$addr" Transfer-Encoding "both Transfer-Encoding and Content-Length"
    pass "framing_${at}_refuses_transfer_encoding_with_content_length"
done

# Chunked alone (any case) is still a body sksd reads.
{
    printf 'POST /stir/v1/signing HTTP/1.1\r\nHost: sksd\r\nContent-Type: application/json\r\n'
    printf 'Transfer-Encoding: Chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n' "$BODY_LEN" "$BODY"
} > "$sks_work/chunked.req"
raw chunked "$sign_at"
assert_grep chunked "status 200" "$sks_work/chunked.out"
assert_grep chunked "connection open" "$sks_work/chunked.out"
pass "framing_a_chunked_request_is_still_answered"

kill -0 "$sksd_pid" || fail "sksd died"
