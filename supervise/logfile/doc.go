// Package logfile writes, rotates, reads and follows log files the way supervisord 4.2.5 does.
package logfile
