package scavenger

// Views into the engine's state that only tests need.

// has reports whether the hub holds a log for the job.
func (h *eventHub) has(jobID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs[jobID] != nil
}

// size reports the bytes and entries the cache holds.
func (c *inputCache) size() (bytes int64, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, len(c.entries)
}
