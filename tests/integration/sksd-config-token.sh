#!/bin/sh
# A key-store configuration is self-contained: pkcs11_module_env gives the
# module its environment (SoftHSM's SOFTHSM2_CONF), relative paths are taken
# from the file's directory by sksctl and sksd alike, and when no token
# matches, sksctl and sksd name the token they looked for, the tokens the
# module lists and the SOFTHSM2_CONF in effect.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sks_mkwork
make_token sks-conf
cd "$sks_work"
# Nothing below may depend on the caller's SoftHSM configuration.
token_conf=$SOFTHSM2_CONF
unset SOFTHSM2_CONF

# --- the sks.conf that mktoken.sh writes works with no environment at all ---
run_ok list-mktoken "$SKSCTL" list -c token/sks.conf
assert_grep list-mktoken "IDENTITY" list-mktoken.out
pass "sksctl_list_works_from_mktoken_sks_conf_without_SOFTHSM2_CONF"

# --- sksd -c RELATIVE, with relative pin_file and module environment ---
mkdir cfg
cp "$SKS_PIN_FILE" cfg/pin
cat > cfg/sks.conf <<CONF
[sks]
pkcs11_module = $SOFTHSM_MODULE
pkcs11_module_env = sks_module_env
token = $SKS_TOKEN_LABEL
pin_file = pin

[sks_module_env]
SOFTHSM2_CONF = ../token/softhsm2.conf

[sksd]
listen = 127.0.0.1:0
identities = sksd_identities

[sksd_identities]
default = sp-main
CONF
run_ok check-relative sh -c 'cd cfg && exec "$1" -c sks.conf --check' sh "$SKSD"
assert_grep check-relative "is valid and the token" check-relative.out
pass "sksd_takes_a_relative_pin_file_from_the_config_directory"
run_ok list-relative sh -c 'cd cfg && exec "$1" list -c sks.conf' sh "$SKSCTL"
pass "sksctl_takes_the_same_relative_paths"

# --- no token: the label looked for, the tokens listed, SOFTHSM2_CONF ---
grep -v '^pkcs11_module_env\|^SOFTHSM2_CONF\|^\[sks_module_env\]' cfg/sks.conf > cfg/noenv.conf
run_fails list-unset "no token matches pkcs11:token=$SKS_TOKEN_LABEL" "$SKSCTL" list -c cfg/noenv.conf
assert_grep list-unset "SOFTHSM2_CONF is unset" list-unset.out
assert_grep list-unset "noenv.conf: [sks]: no token matches" list-unset.out
pass "sksctl_no_token_names_the_label_and_that_SOFTHSM2_CONF_is_unset"
run_fails check-unset "no token matches pkcs11:token=$SKS_TOKEN_LABEL" "$SKSD" -c cfg/noenv.conf --check
assert_grep check-unset "SOFTHSM2_CONF is unset" check-unset.out
pass "sksd_check_no_token_names_the_label_and_that_SOFTHSM2_CONF_is_unset"

sed "s/^token = .*/token = sks-elsewhere/" cfg/sks.conf > cfg/other.conf
run_fails list-other "no token matches pkcs11:token=sks-elsewhere" "$SKSCTL" list -c cfg/other.conf
assert_grep list-other "lists the token \"$SKS_TOKEN_LABEL\"" list-other.out
assert_grep list-other "SOFTHSM2_CONF=$sks_work/cfg/../token/softhsm2.conf" list-other.out
pass "no_token_lists_the_tokens_present_and_the_SOFTHSM2_CONF_in_effect"

run_fails check-example "no token matches pkcs11:token=sks-prod" \
    env SOFTHSM2_CONF="$token_conf" "$SKSD" -c "$top_builddir/sksd/sks.conf.example" --check
assert_grep check-example "SOFTHSM2_CONF=$token_conf" check-example.out
pass "sksd_check_of_the_example_names_the_token_sks-prod"

# --- pkcs11_module_env mistakes are named ---
sed 's/^pkcs11_module_env = .*/pkcs11_module_env = nowhere/' cfg/sks.conf > cfg/nosect.conf
run_fails env-no-section "pkcs11_module_env = nowhere names no section [nowhere]" \
    "$SKSCTL" list -c cfg/nosect.conf
sed 's/^SOFTHSM2_CONF = /SOFTHSM2-CONF = /' cfg/sks.conf > cfg/badname.conf
run_fails env-bad-name '"SOFTHSM2-CONF" is not an environment variable name' \
    "$SKSCTL" list -c cfg/badname.conf
pass "pkcs11_module_env_refuses_a_missing_section_and_a_bad_name"

# --- no configuration file at all ---
default=$("$SKSCTL" list --help | sed -n 's/.*configuration file (default \(.*\))$/\1/p')
[ -n "$default" ] || fail "sksctl list --help does not name the default configuration file"
if [ -e "$default" ]; then
    echo "# $default exists on this machine: the missing-default message is not checked"
else
    run_fails list-no-config "$default does not exist" "$SKSCTL" list
    assert_grep list-no-config "-c FILE" list-no-config.out
    pass "sksctl_without_a_configuration_says_the_default_file_does_not_exist"
fi
