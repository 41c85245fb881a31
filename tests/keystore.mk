# The key store: sksctl commands, unit tests against a real SoftHSM2 token,
# integration tests of every way in, bad input, rotation and crashes, and the
# key store benchmark.

# sksctl's key store commands.  Added here because automake needs
# tools/local.mk's "sksctl_SOURCES =" before any "+=", and tools/ is included
# after sks/.
sksctl_SOURCES += tools/cmd_keystore.c
