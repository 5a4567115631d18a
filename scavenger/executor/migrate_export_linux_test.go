package executor

// GuestAsRoot makes e run its guests as root, for tests on a machine where
// criu cannot dump another user's processes (no CAP_SYS_RESOURCE, as in some
// containers): the rest of migration can still be tested there.
func GuestAsRoot(e *Executor) { e.guest = &account{name: "root"} }
