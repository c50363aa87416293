package browserprobe

import (
	"strconv"
	"strings"
	"sync"

	"encoding/json"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
)

// maxListed bounds each list a run keeps: a page that logs an error per
// frame must not grow the result without end.
const maxListed = 20

// watcher collects what the page does wrong while a run drives it: console
// errors and uncaught exceptions, requests that failed or got a status of 400
// or more. Its event method is a chromedp listener: it runs on the tab's
// reading goroutine, so it only records, under a lock.
type watcher struct {
	mu       sync.Mutex
	requests map[network.RequestID]string // "METHOD URL" of requests in flight
	console  []string
	failed   []string
	// dropped counts entries beyond maxListed, per list.
	consoleDropped, failedDropped int
}

func newWatcher() *watcher {
	return &watcher{requests: make(map[network.RequestID]string)}
}

// event records one protocol event of the tab.
func (w *watcher) event(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		w.addConsole(exceptionText(e.ExceptionDetails))
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			w.addConsole(consoleText(e))
		}
	case *network.EventRequestWillBeSent:
		if e.Request != nil {
			w.requests[e.RequestID] = e.Request.Method + " " + clip(e.Request.URL)
		}
	case *network.EventResponseReceived:
		if e.Response != nil && e.Response.Status >= 400 {
			w.addFailed(w.requests[e.RequestID], "status "+strconv.FormatInt(e.Response.Status, 10))
		}
	case *network.EventLoadingFinished:
		delete(w.requests, e.RequestID)
	case *network.EventLoadingFailed:
		// A canceled request is the page's own doing (it navigated away).
		if !e.Canceled {
			reason := e.ErrorText
			if e.BlockedReason != "" {
				reason += " (blocked: " + string(e.BlockedReason) + ")"
			}
			w.addFailed(w.requests[e.RequestID], reason)
		}
		delete(w.requests, e.RequestID)
	}
}

func (w *watcher) addConsole(text string) {
	if len(w.console) == maxListed {
		w.consoleDropped++
		return
	}
	w.console = append(w.console, text)
}

func (w *watcher) addFailed(request, reason string) {
	if request == "" {
		request = "(unknown request)"
	}
	if len(w.failed) == maxListed {
		w.failedDropped++
		return
	}
	w.failed = append(w.failed, request+": "+reason)
}

// lists returns copies of what was collected, each ending with a line saying
// how many more were left out.
func (w *watcher) lists() (console, failed []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	console = append([]string(nil), w.console...)
	if w.consoleDropped > 0 {
		console = append(console, "("+strconv.Itoa(w.consoleDropped)+" more not listed)")
	}
	failed = append([]string(nil), w.failed...)
	if w.failedDropped > 0 {
		failed = append(failed, "("+strconv.Itoa(w.failedDropped)+" more not listed)")
	}
	return console, failed
}

// exceptionText is an uncaught exception as the console shows its first
// line, with where it was thrown: "Uncaught Error: boom (http://h/app.js:3:9)".
func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "exception"
	}
	text := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		desc, _, _ := strings.Cut(d.Exception.Description, "\n")
		text = strings.TrimSuffix(text, ":") + " " + desc
		if d.Text == "" {
			text = desc
		}
	}
	if d.URL != "" {
		text += " (" + clip(d.URL) + ":" + strconv.FormatInt(d.LineNumber+1, 10) + ":" + strconv.FormatInt(d.ColumnNumber+1, 10) + ")"
	}
	return clip(text)
}

// consoleText is a console.error call's arguments joined by spaces, with
// the place of the call when the browser gives it.
func consoleText(e *runtime.EventConsoleAPICalled) string {
	parts := make([]string, 0, len(e.Args))
	for _, arg := range e.Args {
		parts = append(parts, argText(arg))
	}
	text := strings.Join(parts, " ")
	if e.StackTrace != nil && len(e.StackTrace.CallFrames) > 0 {
		f := e.StackTrace.CallFrames[0]
		if f.URL != "" {
			text += " (" + clip(f.URL) + ":" + strconv.FormatInt(f.LineNumber+1, 10) + ":" + strconv.FormatInt(f.ColumnNumber+1, 10) + ")"
		}
	}
	return clip(text)
}

// argText is one console argument: a string as it is, another value by its
// JSON or description.
func argText(arg *runtime.RemoteObject) string {
	if arg == nil {
		return ""
	}
	if arg.Type == runtime.RemoteObjectTypeString && len(arg.Value) > 0 {
		var s string
		if err := json.Unmarshal([]byte(arg.Value), &s); err == nil {
			return s
		}
	}
	switch {
	case arg.Description != "":
		return arg.Description
	case arg.UnserializableValue != "":
		return string(arg.UnserializableValue)
	case len(arg.Value) > 0:
		return string(arg.Value)
	}
	return string(arg.Type)
}
