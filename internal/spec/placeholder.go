package spec

import (
	"regexp"
	"strconv"
	"strings"
)

// Placeholder is one ${services.NAME.FIELD} in an environment value.
type Placeholder struct {
	// Text is the placeholder as written, "${services.cache.address}".
	Text string
	// Service and Field are its parts; Field is address, host or port.
	Service, Field string
	// Err says what is wrong with it, "" when nothing is.
	Err string
	// Start and End are where it stands in the value: value[Start:End].
	Start, End int
}

// PlaceholderFields are the fields a ${services.NAME.FIELD} can name.
var PlaceholderFields = []string{"address", "host", "port"}

// placeholderRE matches ${services.…} up to the closing brace.
var placeholderRE = regexp.MustCompile(`\$\{services\.([^}]*)\}`)

// FindPlaceholders returns the ${services.…} placeholders in value, in
// order. Other text, other ${…} included, is not a placeholder: it
// reaches the task as written.
func FindPlaceholders(value string) []Placeholder {
	var out []Placeholder
	for _, loc := range placeholderRE.FindAllStringSubmatchIndex(value, -1) {
		ph := Placeholder{Text: value[loc[0]:loc[1]], Start: loc[0], End: loc[1]}
		svc, field, ok := strings.Cut(value[loc[2]:loc[3]], ".")
		ph.Service, ph.Field = svc, field
		switch {
		case !ok || svc == "":
			ph.Err = "write ${services.NAME.address} (or .host, .port)"
		case !validName(svc):
			ph.Err = "invalid service name " + strconv.Quote(svc)
		default:
			if !containsString(PlaceholderFields, field) {
				ph.Err = "unknown field " + strconv.Quote(field) + ": use address, host or port"
			}
		}
		out = append(out, ph)
	}
	return out
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
