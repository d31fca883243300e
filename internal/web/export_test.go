package web

import "strings"

// HasMessage reports whether the catalogue has key in lang.
func HasMessage(lang, key string) bool {
	_, ok := messages[lang][key]
	return ok
}

// MissingMessages lists the keys one language has and the other lacks; validation rule texts ("rule.") are
// Chinese only, as English shows the domain's own message.
func MissingMessages() []string {
	var out []string
	for k := range messages["zh"] {
		if _, ok := messages["en"][k]; !ok && !strings.HasPrefix(k, "rule.") {
			out = append(out, "en:"+k)
		}
	}
	for k := range messages["en"] {
		if _, ok := messages["zh"][k]; !ok {
			out = append(out, "zh:"+k)
		}
	}
	return out
}
