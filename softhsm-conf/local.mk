dist_noinst_SCRIPTS += softhsm-conf/mktoken.sh
dist_noinst_DATA += softhsm-conf/softhsm2.conf.in
