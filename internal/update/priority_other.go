//go:build !linux && !darwin

package update

// backgroundPriority is a no-op here: on Windows the update's heavy phases run at
// normal priority (the server is stopped and started there anyway).
func backgroundPriority() error { return nil }
