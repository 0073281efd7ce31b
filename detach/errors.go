package detach

// keeper-master is built without fmt: fmt and the reflection it brings
// would be about 150 KB of the binary, which every idle master maps whole
// (see README, Measured). The code a master runs words its errors with
// these instead of fmt.Errorf; the rest of the package may use fmt.

// wrapError is an error with a message of its own that wraps err, as
// fmt.Errorf's %w does.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

// wrap returns an error reading "what: err" that wraps err.
func wrap(what string, err error) error { return &wrapError{what + ": " + err.Error(), err} }
