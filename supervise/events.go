package supervise

import (
	"maps"
	"slices"
)

// eventParents is supervisord's table of event types: each name and the
// type it is a kind of. A listener subscribed to a type gets that type's
// events and those of every type below it; EVENT is the root.
var eventParents = map[string]string{
	"EVENT": "",

	"PROCESS_STATE":          "EVENT",
	"PROCESS_STATE_STOPPED":  "PROCESS_STATE",
	"PROCESS_STATE_EXITED":   "PROCESS_STATE",
	"PROCESS_STATE_STARTING": "PROCESS_STATE",
	"PROCESS_STATE_STOPPING": "PROCESS_STATE",
	"PROCESS_STATE_BACKOFF":  "PROCESS_STATE",
	"PROCESS_STATE_FATAL":    "PROCESS_STATE",
	"PROCESS_STATE_RUNNING":  "PROCESS_STATE",
	"PROCESS_STATE_UNKNOWN":  "PROCESS_STATE",

	"PROCESS_COMMUNICATION":        "EVENT",
	"PROCESS_COMMUNICATION_STDOUT": "PROCESS_COMMUNICATION",
	"PROCESS_COMMUNICATION_STDERR": "PROCESS_COMMUNICATION",

	"PROCESS_LOG":        "EVENT",
	"PROCESS_LOG_STDOUT": "PROCESS_LOG",
	"PROCESS_LOG_STDERR": "PROCESS_LOG",

	"REMOTE_COMMUNICATION": "EVENT",

	"SUPERVISOR_STATE_CHANGE":          "EVENT",
	"SUPERVISOR_STATE_CHANGE_RUNNING":  "SUPERVISOR_STATE_CHANGE",
	"SUPERVISOR_STATE_CHANGE_STOPPING": "SUPERVISOR_STATE_CHANGE",

	"TICK":      "EVENT",
	"TICK_5":    "TICK",
	"TICK_60":   "TICK",
	"TICK_3600": "TICK",

	"PROCESS_GROUP":         "EVENT",
	"PROCESS_GROUP_ADDED":   "PROCESS_GROUP",
	"PROCESS_GROUP_REMOVED": "PROCESS_GROUP",
}

// isEventType reports whether name is an event type a listener may
// subscribe to.
func isEventType(name string) bool {
	_, ok := eventParents[name]
	return ok
}

// eventIsA reports whether events named name are of type typ: typ is name
// or one of its supertypes.
func eventIsA(name, typ string) bool {
	for n := name; n != ""; n = eventParents[n] {
		if n == typ {
			return true
		}
	}
	return false
}

// eventTypeNames lists the event types, sorted, for messages.
func eventTypeNames() []string {
	return slices.Sorted(maps.Keys(eventParents))
}
