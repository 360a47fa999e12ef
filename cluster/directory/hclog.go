package directory

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// slogLogger is the hclog.Logger that raft, its transport and its snapshot
// store write to: it hands every record to a slog.Logger, whose handler does
// the level filtering.
type slogLogger struct {
	base    *slog.Logger // with the implied args, without the name
	l       *slog.Logger // base with the name
	name    string
	implied []any
}

var _ hclog.Logger = (*slogLogger)(nil)

func newHCLogger(l *slog.Logger) hclog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return newSlogLogger(l, "", nil)
}

func newSlogLogger(base *slog.Logger, name string, implied []any) *slogLogger {
	l := base
	if name != "" {
		l = base.With("logger", name)
	}
	return &slogLogger{base: base, l: l, name: name, implied: implied}
}

// slogLevel maps hclog's levels onto slog's; Trace sits below Debug.
func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (h *slogLogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	sl := slogLevel(level)
	ctx := context.Background()
	if !h.l.Enabled(ctx, sl) {
		return
	}
	h.l.Log(ctx, sl, msg, args...)
}

func (h *slogLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *slogLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *slogLogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *slogLogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *slogLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *slogLogger) enabled(level hclog.Level) bool {
	return h.l.Enabled(context.Background(), slogLevel(level))
}

func (h *slogLogger) IsTrace() bool { return h.enabled(hclog.Trace) }
func (h *slogLogger) IsDebug() bool { return h.enabled(hclog.Debug) }
func (h *slogLogger) IsInfo() bool  { return h.enabled(hclog.Info) }
func (h *slogLogger) IsWarn() bool  { return h.enabled(hclog.Warn) }
func (h *slogLogger) IsError() bool { return h.enabled(hclog.Error) }

func (h *slogLogger) ImpliedArgs() []any { return h.implied }

func (h *slogLogger) With(args ...any) hclog.Logger {
	return newSlogLogger(h.base.With(args...), h.name, append(h.implied[:len(h.implied):len(h.implied)], args...))
}

func (h *slogLogger) Name() string { return h.name }

func (h *slogLogger) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.ResetNamed(name)
}

func (h *slogLogger) ResetNamed(name string) hclog.Logger {
	return newSlogLogger(h.base, name, h.implied)
}

// SetLevel is ignored: the slog handler decides.
func (h *slogLogger) SetLevel(hclog.Level) {}

func (h *slogLogger) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if h.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

func (h *slogLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

func (h *slogLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return &lineWriter{h: h, level: level}
}

// lineWriter logs each write (a line of a standard logger) as one record.
type lineWriter struct {
	h     *slogLogger
	level hclog.Level
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.h.Log(w.level, string(bytes.TrimRight(p, "\r\n")))
	return len(p), nil
}
