package supervise

import "keeper/supervise/http1"

// serveSessionPage serves a session in the page (web_attach = true): not
// built yet, so every session path is 404.
func (d *Daemon) serveSessionPage(w http1.ResponseWriter, r *http1.Request, program, session string) {
	notFound(w)
}
