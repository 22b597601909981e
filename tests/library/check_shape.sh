#!/bin/sh
# The library's shape, from its dynamic section and symbol tables.
# Usage: check_shape.sh WHAT LIBRARY [ARG], WHAT one of:
#   exports  SPEC "It exports only the libc functions it interposes and names
#            that begin with accept4shim_", and it does export all of these:
#            ARG, the functions it takes over (A4S_WRAPPED_FUNCTIONS of
#            cmake/parts/archive.cmake, space-separated), so shim/exports.map
#            and that list agree
#   needed   SPEC "links nothing beyond the C library": NEEDED is ARG
#            (default libc.so.6, glibc's; musl's is libc.so)
#   no-ffi   the table tests drive it through libffi, but it must not link it
#   imports  SPEC "no malloc, no stdio, no lock": it imports none of them
#            from the C library at all, so no path can reach them
#   archive  LIBRARY is libaccept4shim.a and ARG the same list: it defines
#            __wrap_NAME for each name, accept4shim_ names, and a weak
#            __real_NAME stand-in for each optional one (shim/bind_stubs.c),
#            nothing else (its own names are local, so they cannot clash with
#            a program's); it reaches the C library through __real_NAME
#            (shim/bind.h's list: every name but vfork, which is assembly),
#            and asks for dlsym and dladdr only weakly (a static program
#            has neither)
set -u
what=$1
lib=$2
arg=${3:-}
[ -f "$lib" ] || { echo "no library at $lib"; exit 1; }

fail() {
	echo "$lib: $*"
	exit 1
}

# Whatever is checked, it is checked on libaccept4shim: a file that does
# not define accept4shim_config (the stand-in of tests/standin, say) fails.
case $what in archive) dynamic= ;; *) dynamic=-D ;; esac
nm $dynamic --defined-only "$lib" 2>/dev/null | awk '{ sub(/@.*/, "", $3); print $3 }' |
	grep -qx accept4shim_config || fail "is not libaccept4shim (it does not define accept4shim_config)"

case $what in
exports)
	# Names only, without any @VERSION suffix.
	defined=$(nm -D --defined-only "$lib" | awk '{ sub(/@.*/, "", $3); print $3 }')
	[ -n "$defined" ] || fail "nm -D listed nothing"
	interposed=$arg
	[ -n "$interposed" ] || fail "no list of the functions taken over was given"
	extra=$(printf '%s\n' "$defined" |
		grep -vxE "($(echo $interposed | tr ' ' '|'))|accept4shim_[A-Za-z0-9_]+")
	[ -z "$extra" ] || fail "exports names that are neither interposed nor accept4shim_*:" $extra
	for name in $interposed accept4shim_version accept4shim_get_stats accept4shim_config \
		accept4shim_errno_name; do
		printf '%s\n' "$defined" | grep -qx "$name" || fail "does not export $name"
	done
	echo "exports:" $defined
	;;
needed)
	libc=${arg:-libc.so.6}
	needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p')
	[ "$needed" = "$libc" ] || fail "NEEDED is '$(echo $needed)', want only $libc"
	echo "NEEDED: $needed"
	;;
no-ffi)
	readelf -d "$lib" | grep -i 'ffi' && fail "names libffi in its dynamic section"
	nm -D --undefined-only "$lib" | grep -i 'ffi' && fail "imports libffi symbols"
	ldd "$lib" | grep -i 'ffi' && fail "loads libffi"
	echo "no libffi"
	;;
imports)
	imports=$(nm -D --undefined-only "$lib" | awk '{ sub(/@.*/, "", $2); print $2 }')
	bad=$(printf '%s\n' "$imports" | grep -xE \
		'(malloc|calloc|realloc|reallocarray|free|posix_memalign|aligned_alloc|memalign|valloc|strdup|strndup|asprintf|vasprintf)|(v?f?printf|v?s?n?printf|v?dprintf|fopen|fdopen|fclose|fputs|fputc|fwrite|fflush|puts|putchar|perror|setvbuf)|(syslog|vsyslog|openlog|strerror|strerror_r)|(pthread_mutex_(lock|trylock|timedlock)|pthread_rwlock_.*|pthread_spin_lock|pthread_cond_.*wait|sem_wait|sem_timedwait|flockfile)')
	[ -z "$bad" ] || fail "imports allocation, stdio, syslog(3) or locking functions:" $bad
	echo "imports:" $imports
	;;
archive)
	[ -n "$arg" ] || fail "no list of the functions taken over was given"
	required='accept accept4'
	wraps='' reals='' stubs=''
	for name in $arg; do
		wraps="$wraps __wrap_$name"
		[ "$name" = vfork ] && continue # assembly: no real one called
		reals="$reals __real_$name"
		case " $required " in *" $name "*) ;; *) stubs="$stubs __real_$name" ;; esac
	done
	# Strong definitions, and weak ones, apart.
	defined=$(nm -g --defined-only "$lib" | awk 'NF == 3 && $2 != "W" { print $3 }')
	weak=$(nm -g --defined-only "$lib" | awk 'NF == 3 && $2 == "W" { print $3 }')
	allowed=$(echo $wraps | tr ' ' '|')
	extra=$(printf '%s\n' "$defined" | grep -vxE "($allowed)|accept4shim_[A-Za-z0-9_]+")
	[ -z "$extra" ] || fail "defines names that are neither __wrap_NAME nor accept4shim_*:" $extra
	for name in $wraps accept4shim_version accept4shim_get_stats accept4shim_config accept4shim_errno_name; do
		printf '%s\n' "$defined" | grep -qx "$name" || fail "does not define $name"
	done
	allowed=$(echo $stubs | tr ' ' '|')
	extra=$(printf '%s\n' "$weak" | grep -vxE "${allowed:-^$}")
	[ -z "$extra" ] || fail "defines weak names that are not stand-ins for an optional __real_NAME:" $extra
	for name in $stubs; do
		printf '%s\n' "$weak" | grep -qx "$name" || fail "has no stand-in $name"
	done
	undefined=$(nm -g --undefined-only "$lib" | awk '{ print $1 " " $2 }')
	for name in $reals; do
		printf '%s\n' "$undefined" | grep -qx "U $name" || fail "does not call $name"
	done
	strong_dl=$(printf '%s\n' "$undefined" | grep -xE 'U (dlsym|dladdr|dlopen)')
	[ -z "$strong_dl" ] || fail "needs the dynamic linker's functions:" $strong_dl
	echo "defines:" $defined
	echo "stand-ins:" $weak
	;;
*)
	echo "usage: $0 exports|needed|no-ffi|imports|archive LIBRARY [ARG]" >&2
	exit 2
	;;
esac
