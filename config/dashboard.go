package config

import (
	"net"
	"strconv"
)

// validate checks [dashboard]: listen is host:port, and an address other
// machines can reach needs allow_remote, since the page shows what runs
// here and the token is its only lock.
func (d Dashboard) validate(v *validator) {
	const key = "dashboard.listen"
	if d.Listen == "" {
		return
	}
	host, port, err := net.SplitHostPort(d.Listen)
	if err != nil {
		v.add(key, "%s is not host:port, e.g. \"127.0.0.1:9470\": %w", quoteShort(d.Listen), err)
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		v.add(key, "%s: port %s is not a number from 0 to 65535", quoteShort(d.Listen), quoteShort(port))
		return
	}
	if !d.AllowRemote && !loopbackHost(host) {
		v.add(key, "%s is reachable from other machines; listen on 127.0.0.1 or set dashboard.allow_remote = true", quoteShort(d.Listen))
	}
}

// loopbackHost reports whether host names only this machine.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
