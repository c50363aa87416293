package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/internal/maintenance"
	"github.com/vigil-monitoring/vigil/internal/notify"
)

// MaintenanceBackend is a Backend that takes maintenance windows at run
// time (the agent): the book, the features selectors choose from, and a
// call to apply the book after a change.
type MaintenanceBackend interface {
	Maintenance() *maintenance.Book
	MaintenanceTargets() []maintenance.Target
	MaintenanceChanged() error
}

// maintenanceBackend is the backend's MaintenanceBackend, or nil.
func (s *Server) maintenanceBackend() MaintenanceBackend {
	mb, _ := s.backend.(MaintenanceBackend)
	return mb
}

// listMaintenance serves GET /api/v1/maintenance: every window kept, by
// start, each with "active".
func (s *Server) listMaintenance(w http.ResponseWriter, _ *http.Request) {
	mb := s.maintenanceBackend()
	if mb == nil {
		writeJSON(w, map[string]any{"maintenance": []any{}})
		return
	}
	now := s.backend.Engine().Now()
	type item struct {
		maintenance.Window
		Active bool `json:"active"`
	}
	list := mb.Maintenance().List(now)
	out := make([]item, len(list))
	for i, win := range list {
		out[i] = item{win, win.ActiveAt(now)}
	}
	writeJSON(w, map[string]any{"maintenance": out})
}

// maxMaintenanceBody bounds a request body: a window is a few hundred bytes.
const maxMaintenanceBody = 64 << 10

// addMaintenance serves POST /api/v1/maintenance: declares a window (201
// with it), or 400 naming the field at fault.
func (s *Server) addMaintenance(w http.ResponseWriter, r *http.Request) {
	if !s.authorizeWrite(w, r) {
		return
	}
	mb := s.maintenanceBackend()
	if mb == nil {
		jsonError(w, http.StatusNotImplemented, "this server takes no maintenance windows")
		return
	}
	var req maintenance.Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxMaintenanceBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		badRequest(w, "body: %s", jsonProblem(err))
		return
	}
	win, err := mb.Maintenance().Add(req, mb.MaintenanceTargets(), s.backend.Engine().Now())
	var fe *maintenance.FieldError
	switch {
	case errors.As(err, &fe):
		badRequest(w, "%s", fe.Error())
		return
	case err != nil:
		jsonError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if err := mb.MaintenanceChanged(); err != nil {
		jsonError(w, http.StatusInternalServerError, "window "+win.ID+" kept but not applied: "+err.Error())
		return
	}
	s.opts.Logger.Info("maintenance declared", "id", win.ID, "mode", win.Mode, "start", win.Start, "end", win.End,
		"features", len(win.Features), "author", win.Author)
	w.Header().Set("Location", "/api/v1/maintenance/"+win.ID)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(win)
}

// endMaintenance serves DELETE /api/v1/maintenance/{id}: a window under
// way ends now, a planned one is called off; 404 when there is none.
func (s *Server) endMaintenance(w http.ResponseWriter, r *http.Request) {
	if !s.authorizeWrite(w, r) {
		return
	}
	mb := s.maintenanceBackend()
	if mb == nil {
		jsonError(w, http.StatusNotImplemented, "this server takes no maintenance windows")
		return
	}
	id := r.PathValue("id")
	win, ok, err := mb.Maintenance().End(id, s.backend.Engine().Now())
	switch {
	case err != nil:
		jsonError(w, http.StatusInternalServerError, err.Error())
		return
	case !ok:
		jsonError(w, http.StatusNotFound, fmt.Sprintf("no maintenance window %q under way or planned", id))
		return
	}
	if err := mb.MaintenanceChanged(); err != nil {
		jsonError(w, http.StatusInternalServerError, "window "+id+" ended but not applied: "+err.Error())
		return
	}
	s.opts.Logger.Info("maintenance ended", "id", win.ID, "end", win.End)
	writeJSON(w, win)
}

// authorizeWrite lets a write request through when Options.AuthorizeWrite
// accepts it; otherwise it answers as notify.RefuseWrite does (401 without
// valid credentials, 403 for credentials that may not write or when writes
// are off; a plain error is a 401) and returns false.
func (s *Server) authorizeWrite(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.AuthorizeWrite == nil {
		notify.RefuseWrite(w, errors.New("write endpoints are off: set web.write_token_file (or writers in --web.config.file)"))
		return false
	}
	if err := s.opts.AuthorizeWrite(r); err != nil {
		var ae *notify.AuthError
		if !errors.As(err, &ae) { // an authorizer that says only no: credentials are missing or wrong
			err = &notify.AuthError{Status: http.StatusUnauthorized, Msg: err.Error()}
		}
		notify.RefuseWrite(w, err)
		return false
	}
	return true
}

// jsonProblem says what is wrong with a request body, naming the field
// where the decoder knows it.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("%s: want a %s, got a JSON %s", te.Field, te.Type, te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON at byte %d: %v", se.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ") + " (fields: selector, start, end, duration, mode, author, reason)"
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return "a time: " + err.Error() + " (RFC 3339, e.g. 2026-12-03T09:00:00+09:00)"
	}
	return err.Error()
}
