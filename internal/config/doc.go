// Package config reads vigil.yml: the agent, defaults, and services -> features ->
// checks. Loading is strict: unknown keys, duplicate names, bad durations, bad
// regexps and unreadable files are errors naming the file, line and key, and all
// of them are reported at once.
package config
