package web

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
)

// artifactName is what a screenshot's file name may be (browserprobe
// names them <sanitized check id>-<unix ms>.png): no path, no dot file.
var artifactName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*\.png$`)

// artifact serves GET /artifacts/{name}: a screenshot of a failed browser
// run, named by /api/v1/features' "screenshot"; 404 for anything else.
func (s *Server) artifact(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.opts.ArtifactDir == "" || !artifactName.MatchString(name) {
		jsonError(w, http.StatusNotFound, "no such artifact")
		return
	}
	f, err := os.Open(filepath.Join(s.opts.ArtifactDir, name))
	if err != nil {
		jsonError(w, http.StatusNotFound, "no such artifact (screenshots are pruned: only the newest of each check are kept)")
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		jsonError(w, http.StatusNotFound, "no such artifact")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(w, r, name, info.ModTime(), f)
}
