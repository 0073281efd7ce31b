package supervise

// State is a process's state, numbered as supervisord numbers them on the
// wire.
type State int

// The process states, with supervisord's codes.
const (
	Stopped  State = 0
	Starting State = 10
	Running  State = 20
	Backoff  State = 30
	Stopping State = 40
	Exited   State = 100
	Fatal    State = 200
	Unknown  State = 1000
)

var stateNames = map[State]string{
	Stopped: "STOPPED", Starting: "STARTING", Running: "RUNNING", Backoff: "BACKOFF",
	Stopping: "STOPPING", Exited: "EXITED", Fatal: "FATAL", Unknown: "UNKNOWN",
}

// String returns the state's name as supervisorctl prints it.
func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "UNKNOWN"
}

// running reports whether the process is up or on its way up: supervisord's
// RUNNING_STATES.
func (s State) running() bool { return s == Running || s == Backoff || s == Starting }

// Stopped reports supervisord's STOPPED_STATES: for status, not running.
func (s State) Stopped() bool { return s == Stopped || s == Exited || s == Fatal || s == Unknown }

// signallable reports whether a process in this state has a pid to signal.
func (s State) signallable() bool { return s == Running || s == Starting || s == Stopping }

// Mood is the daemon's own state (supervisord's SupervisorStates).
type Mood int

// The daemon states.
const (
	MoodFatal      Mood = 2
	MoodRunning    Mood = 1
	MoodRestarting Mood = 0
	MoodShutdown   Mood = -1
)

// String returns the daemon state's name.
func (m Mood) String() string {
	switch m {
	case MoodFatal:
		return "FATAL"
	case MoodRunning:
		return "RUNNING"
	case MoodRestarting:
		return "RESTARTING"
	case MoodShutdown:
		return "SHUTDOWN"
	}
	return "UNKNOWN"
}
