#!/usr/bin/env bash
# Fails on a tracked file that should never be committed: a compiled
# executable (ELF, Mach-O, PE, or any file with an executable bit that is
# not a #! script) or any file over 1 MiB. Two binaries were committed by
# mistake (fc23d7b: a 12.8 MB gatewayctl); .gitignore alone did not stop
# them. Run from the repository's top (make lint does).
set -euo pipefail
max=$((1024 * 1024))
bad=0
while IFS= read -r -d '' entry; do
	mode=${entry%% *}
	path=${entry#*$'\t'}
	[ -f "$path" ] || continue # deleted in the work tree
	size=$(stat -c %s -- "$path")
	if [ "$size" -gt "$max" ]; then
		echo "tracked file over 1 MiB ($size bytes): $path"
		bad=1
	fi
	magic=$(head -c 4 -- "$path" | od -An -tx1 | tr -d ' \n')
	case "$magic" in
	7f454c46 | cffaedfe | cefaedfe | feedface | feedfacf | 4d5a*)
		echo "tracked compiled executable: $path"
		bad=1
		continue
		;;
	esac
	if [ "$mode" = 100755 ] && [ "$(head -c 2 -- "$path")" != '#!' ]; then
		echo "tracked executable that is not a #! script: $path"
		bad=1
	fi
done < <(git ls-files -s -z)
if [ "$bad" -ne 0 ]; then
	echo "git rm --cached each file above (and list it in .gitignore)"
	exit 1
fi
