package otlp

import (
	"strings"

	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"

	"logsys/event"
)

// Level maps a record's severity to a logsys level. The severity number
// is the normalised value the OTel log data model defines, so it decides
// when it is in 1..24: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20
// ERROR, 21-24 FATAL. Otherwise (0, unspecified, or out of range) the
// severity text decides when it names a level (any case; the aliases
// below included), and else the level is INFO.
func Level(number logsv1.SeverityNumber, text string) event.Level {
	if n := int32(number); n >= 1 && n <= 24 {
		return bySeverity[(n-1)/4]
	}
	if l, ok := levelAliases[strings.ToUpper(strings.TrimSpace(text))]; ok {
		return l
	}
	return event.Info
}

// bySeverity are the levels of the six ranges of four severity numbers.
var bySeverity = [6]event.Level{event.Trace, event.Debug, event.Info, event.Warn, event.Error, event.Fatal}

// levelAliases are the severity texts understood when the number is
// unspecified: logsys's level names and the usual spellings of syslog,
// log4j, Python logging and .NET.
var levelAliases = map[string]event.Level{
	"TRACE": event.Trace, "FINEST": event.Trace, "VERBOSE": event.Trace,
	"DEBUG": event.Debug, "FINE": event.Debug, "FINER": event.Debug,
	"INFO": event.Info, "INFORMATION": event.Info, "INFORMATIONAL": event.Info, "NOTICE": event.Info,
	"WARN": event.Warn, "WARNING": event.Warn,
	"ERROR": event.Error, "ERR": event.Error, "SEVERE": event.Error,
	"FATAL": event.Fatal, "CRITICAL": event.Fatal, "CRIT": event.Fatal, "ALERT": event.Fatal,
	"EMERGENCY": event.Fatal, "EMERG": event.Fatal, "PANIC": event.Fatal,
}
