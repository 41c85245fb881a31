# softhsm-conf: throwaway SoftHSM2 tokens (mktoken.sh DIR [LABEL]) for the
# tests and the demo, never under /etc or /var/lib/softhsm.
dist_noinst_SCRIPTS += softhsm-conf/mktoken.sh
dist_noinst_DATA += softhsm-conf/softhsm2.conf.in
