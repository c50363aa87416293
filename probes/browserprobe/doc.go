// Package browserprobe is the browser probe kind: it drives headless
// Chromium through chromedp to open a page the way a user does, waits for,
// clicks, types into and asserts on elements (steps), and reports the page's
// navigation timings as phases, its console errors and failed requests, and a
// full-page screenshot of a failed run.
//
// Browsers come from a Pool (probes.Browser): a fresh browser process with a
// fresh profile per run, at most max_concurrent at once. Releasing one kills
// its whole process group and any process still using its profile, then
// removes the profile, so no browser process outlives its run, a timeout, a
// kill of the browser or the pool's Close.
//
// Files: config.go (the `browser:` block and its validation), pool.go (the
// pool), proc_linux.go (process groups and finding a profile's processes),
// browserprobe.go (the run), watcher.go (console errors and failed
// requests), screenshot.go (saving and pruning screenshots).
package browserprobe
