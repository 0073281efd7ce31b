// Package supervise runs programs from a supervisord-dialect config and tracks their detached terminal sessions.
package supervise
