// Package logging builds the daemon's slog logger: key=value text or JSON
// on stderr, at a level a reload can change. Under systemd's journal
// (JOURNAL_STREAM set) each line starts with its sd-daemon priority, <3>
// for errors to <7> for debug, so `journalctl -p warning` selects by it,
// and carries no time, which journald adds itself.
package logging
