dnl sieve-encrypt.m4 - locate an installed Dovecot and Pigeonhole  -*-Autoconf-*-
dnl Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file

dnl Pick Dovecot's dovecot-config from the usual places when --with-dovecot
dnl is not given and $prefix has none.
AC_DEFUN([SIEVE_ENCRYPT_FIND_DOVECOT],[
	AS_IF([test "x$with_dovecot" = "x"], [
		se_prefix=$prefix
		test "x$se_prefix" = xNONE && se_prefix=$ac_default_prefix
		for se_dir in "$se_prefix/lib/dovecot" /usr/lib/dovecot \
			      /usr/local/lib/dovecot /usr/lib64/dovecot; do
			AS_IF([test -f "$se_dir/dovecot-config"], [
				with_dovecot=$se_dir
				break
			])
		done
	])
])

dnl Default --with-pigeonhole to the sieve/ directory of Dovecot's own
dnl include directory (must run after DC_DOVECOT).
AC_DEFUN([SIEVE_ENCRYPT_FIND_PIGEONHOLE],[
	AS_IF([test "x$with_pigeonhole" = "x"], [
		se_incdir=`echo "$LIBDOVECOT_INCLUDE" | sed -n 's/^-I\([[^ ]]*\).*/\1/p'`
		AS_IF([test -f "$se_incdir/sieve/sieve.h"], [
			with_pigeonhole="$se_incdir/sieve"
		])
	])
])

dnl Dovecot 2.4 moved plugin settings into its settings framework, which
dnl needs a settings module installed next to the plugin.
AC_DEFUN([SIEVE_ENCRYPT_DOVECOT_VERSION],[
	AC_MSG_CHECKING([whether Dovecot is 2.4 or newer])
	se_old_cppflags=$CPPFLAGS
	CPPFLAGS="$CPPFLAGS -DHAVE_CONFIG_H $LIBDOVECOT_INCLUDE"
	AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[
#include "lib.h"
]], [[
#if !DOVECOT_PREREQ(2, 4, 0)
#  error Dovecot older than 2.4
#endif
]])], [se_dovecot_24=yes], [se_dovecot_24=no])
	CPPFLAGS=$se_old_cppflags
	AC_MSG_RESULT([$se_dovecot_24])
	AM_CONDITIONAL([DOVECOT_24], [test "x$se_dovecot_24" = "xyes"])
	dovecot_version_str=`sed -n 's/^#define DOVECOT_VERSION "\(.*\)"/\1/p' "$dovecot_pkgincludedir/config.h" 2>/dev/null`
])
